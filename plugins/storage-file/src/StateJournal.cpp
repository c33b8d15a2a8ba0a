#include "StateJournal.h"

#include "Crc32c.h"
#include "FileIo.h"

#include <ferry/sdk.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <system_error>

namespace ferry::storage_file {
namespace {

constexpr const char *kSnapshotName = "snapshot";

bool parse_journal_name(const std::string &name, uint64_t &generation)
{
    // journal-<20 digits>.log
    if (name.size() != 8 + 20 + 4 || name.compare(0, 8, "journal-") != 0 || name.compare(28, 4, ".log") != 0)
        return false;
    uint64_t value = 0;
    for (size_t i = 8; i < 28; ++i) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        const uint64_t digit = static_cast<uint64_t>(name[i] - '0');
        if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    generation = value;
    return true;
}

void encode_file_header(uint8_t *p, uint32_t magic, uint64_t generation)
{
    put_u32(p, magic);
    put_u32(p + 4, kStateVersion);
    put_u64(p + 8, generation);
}

// Walks the entries of bytes[from, size). Returns the end of the last intact entry.
size_t replay_entries(const std::string &bytes, size_t from, const StateJournal::Apply &apply, bool *saw_end)
{
    const auto *data = reinterpret_cast<const uint8_t *>(bytes.data());
    size_t pos = from;
    while (bytes.size() - pos >= kStateEntryHeaderBytes) {
        const uint8_t *p = data + pos;
        const uint32_t len = get_u32(p + 4);
        if (len > bytes.size() - pos - kStateEntryHeaderBytes)
            break;
        if (crc32c(p + 4, 5 + static_cast<size_t>(len)) != get_u32(p))
            break;
        const auto type = static_cast<StateEntryType>(p[8]);
        pos += kStateEntryHeaderBytes + len;
        if (type == StateEntryType::SnapshotEnd) {
            if (saw_end != nullptr)
                *saw_end = true;
            break;
        }
        apply(type, p + kStateEntryHeaderBytes, len);
    }
    return pos;
}

} // namespace

void encode_state_entry(std::vector<uint8_t> &out, StateEntryType type, const void *fixed, size_t fixed_len,
                        const void *a, size_t a_len, const void *b, size_t b_len)
{
    const size_t payload = fixed_len + a_len + b_len;
    if (payload > std::numeric_limits<uint32_t>::max())
        throw sdk::Error(FERRY_E_TOO_LARGE, "state entry larger than 4 GiB");
    const size_t at = out.size();
    out.resize(at + kStateEntryHeaderBytes + payload);
    uint8_t *p = out.data() + at;
    put_u32(p + 4, static_cast<uint32_t>(payload));
    p[8] = static_cast<uint8_t>(type);
    uint8_t *q = p + kStateEntryHeaderBytes;
    if (fixed_len > 0)
        std::memcpy(q, fixed, fixed_len);
    if (a_len > 0)
        std::memcpy(q + fixed_len, a, a_len);
    if (b_len > 0)
        std::memcpy(q + fixed_len + a_len, b, b_len);
    put_u32(p, crc32c(p + 4, 5 + payload));
}

StateJournal::~StateJournal()
{
    writer_.reset();
}

std::filesystem::path StateJournal::journal_path(uint64_t generation) const
{
    char name[48];
    std::snprintf(name, sizeof name, "journal-%020" PRIu64 ".log", generation);
    return dir_ / name;
}

void StateJournal::open(const std::filesystem::path &dir, const Apply &apply, const Warn &warn)
{
    dir_ = dir;
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec)
        throw sdk::Error(FERRY_E_IO, "cannot create " + display(dir_) + ": " + ec.message());

    // 1. The snapshot, if any: all or nothing.
    uint64_t covered = 0;
    std::string bytes;
    const std::filesystem::path snapshot = dir_ / kSnapshotName;
    if (read_whole_file(snapshot, bytes)) {
        const auto *data = reinterpret_cast<const uint8_t *>(bytes.data());
        if (bytes.size() < kStateFileHeaderBytes || get_u32(data) != kSnapshotMagic ||
            get_u32(data + 4) != kStateVersion)
            throw sdk::Error(FERRY_E_CORRUPT, "state snapshot " + display(snapshot) + " has a bad header");
        covered = get_u64(data + 8);
        bool saw_end = false;
        const size_t end = replay_entries(bytes, kStateFileHeaderBytes, apply, &saw_end);
        if (!saw_end || end != bytes.size())
            throw sdk::Error(FERRY_E_CORRUPT, "state snapshot " + display(snapshot) + " is damaged at byte " +
                                                  std::to_string(end));
        snapshot_bytes_ = bytes.size();
    }

    // 2. Journals newer than the snapshot, oldest first; older ones are leftovers of a finished compaction.
    std::vector<std::pair<uint64_t, std::filesystem::path>> journals;
    for (const auto &entry : std::filesystem::directory_iterator(dir_)) {
        const std::string name = display(entry.path().filename());
        uint64_t generation = 0;
        if (parse_journal_name(name, generation)) {
            if (generation <= covered)
                std::filesystem::remove(entry.path(), ec);
            else
                journals.emplace_back(generation, entry.path());
        } else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
            std::filesystem::remove(entry.path(), ec);
        }
    }
    std::sort(journals.begin(), journals.end());
    for (size_t i = 0; i < journals.size(); ++i) {
        const auto &[generation, path] = journals[i];
        if (!read_whole_file(path, bytes))
            continue;
        const auto *data = reinterpret_cast<const uint8_t *>(bytes.data());
        size_t end = 0;
        if (bytes.size() < kStateFileHeaderBytes || get_u32(data) != kJournalMagic ||
            get_u32(data + 4) != kStateVersion || get_u64(data + 8) != generation) {
            warn("state journal " + display(path) + " has a bad header; ignoring it");
        } else {
            end = replay_entries(bytes, kStateFileHeaderBytes, apply, nullptr);
            if (end != bytes.size())
                warn("state journal " + display(path) + " is torn at byte " + std::to_string(end) + " of " +
                     std::to_string(bytes.size()) + " (entries after it were not synced before a crash); cutting it");
        }
        const bool newest = i + 1 == journals.size();
        if (!newest) {
            older_journal_bytes_ += bytes.size();
            continue;
        }
        generation_ = generation;
        writer_ = std::make_unique<QFile>(qpath(path));
        open_or_throw(*writer_, QIODevice::ReadWrite | QIODevice::Unbuffered);
        if (end < kStateFileHeaderBytes) {
            // Unusable header: start this generation over.
            uint8_t header[kStateFileHeaderBytes];
            encode_file_header(header, kJournalMagic, generation);
            if (!writer_->resize(0) || !writer_->seek(0))
                throw_file_error(*writer_, "resize");
            write_all(*writer_, header, sizeof header);
            end = kStateFileHeaderBytes;
        } else if (end != bytes.size()) {
            if (!writer_->resize(static_cast<qint64>(end)))
                throw_file_error(*writer_, "resize");
        }
        if (end != bytes.size())
            sync_file(*writer_);
        if (!writer_->seek(static_cast<qint64>(end)))
            throw_file_error(*writer_, "seek");
        journal_file_bytes_ = end;
    }
    if (!writer_)
        start_generation(covered + 1);
}

void StateJournal::start_generation(uint64_t generation)
{
    const std::filesystem::path path = journal_path(generation);
    auto writer = std::make_unique<QFile>(qpath(path));
    open_or_throw(*writer, QIODevice::ReadWrite | QIODevice::Truncate | QIODevice::Unbuffered);
    uint8_t header[kStateFileHeaderBytes];
    encode_file_header(header, kJournalMagic, generation);
    write_all(*writer, header, sizeof header);
    sync_file(*writer);
    sync_directory(dir_);
    if (writer_)
        older_journal_bytes_ += journal_file_bytes_;
    writer_ = std::move(writer);
    generation_ = generation;
    journal_file_bytes_ = kStateFileHeaderBytes;
}

void StateJournal::make_room()
{
    if (buffer_.size() >= kFlushBytes)
        flush();
}

void StateJournal::flush()
{
    if (buffer_.empty())
        return;
    const qint64 at = static_cast<qint64>(journal_file_bytes_);
    try {
        write_all(*writer_, buffer_.data(), buffer_.size());
    } catch (...) {
        // Never leave half an entry in the file: later entries appended after it would be unreachable at replay.
        (void)writer_->resize(at);
        (void)writer_->seek(at);
        writer_->unsetError();
        throw;
    }
    journal_file_bytes_ += buffer_.size();
    buffer_.clear();
    unsynced_ = true;
}

void StateJournal::sync()
{
    flush();
    if (!unsynced_)
        return;
    sync_file(*writer_);
    unsynced_ = false;
}

void StateJournal::compact(const std::vector<uint8_t> &snapshot_entries)
{
    // The state passed in is the state after every entry so far; make those entries durable in their generation,
    // then move new entries to a fresh generation before the snapshot that covers the old one exists.
    sync();
    const uint64_t covered = generation_;
    start_generation(covered + 1);

    std::vector<uint8_t> bytes;
    bytes.reserve(kStateFileHeaderBytes + snapshot_entries.size() + kStateEntryHeaderBytes);
    bytes.resize(kStateFileHeaderBytes);
    encode_file_header(bytes.data(), kSnapshotMagic, covered);
    bytes.insert(bytes.end(), snapshot_entries.begin(), snapshot_entries.end());
    encode_state_entry(bytes, StateEntryType::SnapshotEnd, nullptr, 0);
    write_file_atomically(dir_ / kSnapshotName, bytes.data(), bytes.size());
    snapshot_bytes_ = bytes.size();

    // Older journals are now redundant.
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir_)) {
        uint64_t generation = 0;
        if (parse_journal_name(display(entry.path().filename()), generation) && generation <= covered)
            std::filesystem::remove(entry.path(), ec);
    }
    older_journal_bytes_ = 0;
}

void StateJournal::close()
{
    writer_.reset();
}

} // namespace ferry::storage_file
