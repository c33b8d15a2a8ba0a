// FileIo.h -- the plugin's only platform-specific code (fsync / FlushFileBuffers) plus small QFile helpers that
// turn Qt and OS failures into ferry::sdk::Error with the right status (FERRY_E_NO_SPACE for a full disk,
// FERRY_E_IO otherwise) and the OS error text.
#pragma once

#include <ferry/sdk.hpp>

#include <QFile>
#include <QString>

#include <filesystem>
#include <string>

namespace ferry::storage_file {

QString qpath(const std::filesystem::path &path);
std::string display(const std::filesystem::path &path); // UTF-8 form for messages

// Makes the data of an open file durable (fdatasync on Linux, F_FULLFSYNC on macOS, FlushFileBuffers on Windows).
// Throws Error(FERRY_E_IO or FERRY_E_NO_SPACE) naming the file.
void sync_file(QFile &file);
// Makes a directory's entries (created, renamed, removed files) durable. A no-op on Windows.
void sync_directory(const std::filesystem::path &dir);

// Throws the Error for a failed QFile operation; `what` says what was attempted ("write", "open", ...).
[[noreturn]] void throw_file_error(const QFile &file, const char *what);

// Opens file in mode or throws.
void open_or_throw(QFile &file, QIODevice::OpenMode mode);
// Writes all n bytes at the current position or throws (a short write is an error).
void write_all(QFile &file, const void *data, size_t n);
// Reads a whole small file (journal, snapshot, checkpoint) into memory. Returns false when it does not exist.
bool read_whole_file(const std::filesystem::path &path, std::string &out);
// Writes a small file durably under a temporary name, fsyncs it, renames it over `path` and fsyncs the directory.
void write_file_atomically(const std::filesystem::path &path, const void *data, size_t n);

} // namespace ferry::storage_file
