#include "config/Config.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace ferry {

namespace {

std::string_view trim(std::string_view text)
{
    const auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
    while (!text.empty() && isSpace(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && isSpace(text.back()))
        text.remove_suffix(1);
    return text;
}

// Section and key names: letters, digits, '_' and '-' (plugin names are [a-z0-9_-]+; keys follow the same style).
bool isValidName(std::string_view name)
{
    if (name.empty())
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

std::string joinNames(const std::vector<ConfigKeySpec> &keys)
{
    std::string out;
    for (const ConfigKeySpec &spec : keys) {
        if (!out.empty())
            out += ", ";
        out += spec.name;
    }
    return out.empty() ? std::string("(no keys)") : out;
}

std::string badValue(const ConfigValueRef &ref, const std::string &expected)
{
    std::string text = "config: " + ref.name + ": " + expected + ", got '" + ref.value + "'";
    if (!ref.origin.empty())
        text += " (" + ref.origin + ")";
    return text;
}

// Parses a run of decimal digits with overflow checking. Empty or non-digit text -> nullopt.
std::optional<uint64_t> parseDigits(std::string_view digits)
{
    if (digits.empty())
        return std::nullopt;
    uint64_t result = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
        const uint64_t digit = static_cast<uint64_t>(c - '0');
        if (result > (std::numeric_limits<uint64_t>::max() - digit) / 10)
            return std::nullopt;
        result = result * 10 + digit;
    }
    return result;
}

struct DurationUnit {
    std::string_view suffix;
    uint64_t ms;
};
constexpr DurationUnit kDurationUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60ull * 1000}, {"h", 3600ull * 1000}, {"d", 24ull * 3600 * 1000},
};

// Renders a millisecond amount in the largest unit that divides it, for messages ("10s", "72h", "250ms").
std::string formatDuration(uint64_t ms)
{
    if (ms == 0)
        return "0";
    for (auto it = std::rbegin(kDurationUnits); it != std::rend(kDurationUnits); ++it) {
        if (ms % it->ms == 0)
            return std::to_string(ms / it->ms) + std::string(it->suffix);
    }
    return std::to_string(ms) + "ms";
}

} // namespace

// ---- Config -------------------------------------------------------------------------------------------------------

bool Config::loadFile(const std::filesystem::path &file, std::string *error)
{
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        if (error)
            *error = "config: cannot open '" + file.string() + "'";
        return false;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        if (error)
            *error = "config: cannot read '" + file.string() + "'";
        return false;
    }
    return loadText(text.str(), file.string(), error);
}

bool Config::loadText(std::string_view text, const std::string &sourceName, std::string *error)
{
    // Parse into a scratch copy so a failed load leaves this config unchanged.
    auto parsed = sections_;
    std::map<std::string, std::string> seenInThisSource; // "section.key" -> origin, to refuse duplicates

    if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF")
        text.remove_prefix(3); // UTF-8 byte order mark written by some Windows editors

    std::string currentSection;
    size_t lineNumber = 0;
    for (size_t lineStart = 0; lineStart < text.size();) {
        ++lineNumber;
        const size_t newline = std::min(text.find('\n', lineStart), text.size());
        const std::string_view rawLine = text.substr(lineStart, newline - lineStart);
        lineStart = newline + 1;

        const std::string origin = sourceName + ":" + std::to_string(lineNumber);
        const auto fail = [&](const std::string &what) {
            if (error)
                *error = "config: " + origin + ": " + what;
            return false;
        };

        const std::string_view line = trim(rawLine);
        if (line.empty() || line.front() == '#' || line.front() == ';')
            continue;
        if (line.front() == '[') {
            if (line.back() != ']')
                return fail("expected '[section]', got '" + std::string(line) + "'");
            const std::string_view name = trim(line.substr(1, line.size() - 2));
            if (!isValidName(name))
                return fail("invalid section name '" + std::string(name) + "' (letters, digits, '_' and '-' only)");
            currentSection = std::string(name);
            Section &section = parsed[currentSection];
            if (section.origin.empty())
                section.origin = origin;
        } else {
            const size_t equals = line.find('=');
            if (equals == std::string_view::npos)
                return fail("expected 'key = value', got '" + std::string(line) + "'");
            const std::string_view key = trim(line.substr(0, equals));
            const std::string_view value = trim(line.substr(equals + 1));
            if (!isValidName(key))
                return fail("invalid key name '" + std::string(key) + "' (letters, digits, '_' and '-' only)");
            if (currentSection.empty())
                return fail("key '" + std::string(key) + "' appears before any [section]");
            const std::string fullName = currentSection + "." + std::string(key);
            const auto [seen, inserted] = seenInThisSource.emplace(fullName, origin);
            if (!inserted)
                return fail(fullName + " is set twice (first at " + seen->second + ")");
            parsed[currentSection].keys[std::string(key)] = Entry{std::string(value), origin};
        }
    }
    sections_ = std::move(parsed);
    return true;
}

bool Config::applyOverride(std::string_view assignment, std::string *error)
{
    const auto fail = [&](const std::string &what) {
        if (error)
            *error = "config: --set '" + std::string(assignment) + "': " + what;
        return false;
    };
    const size_t equals = assignment.find('=');
    if (equals == std::string_view::npos)
        return fail("expected section.key=value");
    const std::string_view name = trim(assignment.substr(0, equals));
    const size_t dot = name.find('.');
    if (dot == std::string_view::npos)
        return fail("expected section.key=value (no '.' in the name)");
    const std::string_view section = trim(name.substr(0, dot));
    const std::string_view key = trim(name.substr(dot + 1));
    if (!isValidName(section))
        return fail("invalid section name '" + std::string(section) + "'");
    if (!isValidName(key))
        return fail("invalid key name '" + std::string(key) + "'");
    set(std::string(section), std::string(key), std::string(trim(assignment.substr(equals + 1))), "--set");
    return true;
}

void Config::set(const std::string &section, const std::string &key, std::string value, std::string origin)
{
    Section &target = sections_[section];
    if (target.origin.empty())
        target.origin = origin;
    target.keys[key] = Entry{std::move(value), std::move(origin)};
}

const Config::Entry *Config::entry(std::string_view section, std::string_view key) const
{
    const auto s = sections_.find(section);
    if (s == sections_.end())
        return nullptr;
    const auto k = s->second.keys.find(key);
    return k == s->second.keys.end() ? nullptr : &k->second;
}

std::optional<std::string> Config::value(std::string_view section, std::string_view key) const
{
    const Entry *found = entry(section, key);
    if (!found)
        return std::nullopt;
    return found->value;
}

bool Config::hasSection(std::string_view section) const
{
    return sections_.find(section) != sections_.end();
}

std::vector<std::string> Config::sections() const
{
    std::vector<std::string> names;
    names.reserve(sections_.size());
    for (const auto &[name, section] : sections_)
        names.push_back(name);
    return names;
}

std::vector<std::string> Config::keys(std::string_view section) const
{
    std::vector<std::string> names;
    const auto s = sections_.find(section);
    if (s != sections_.end()) {
        for (const auto &[key, entry] : s->second.keys)
            names.push_back(key);
    }
    return names;
}

std::string Config::sectionOrigin(std::string_view section) const
{
    const auto s = sections_.find(section);
    return s == sections_.end() ? std::string() : s->second.origin;
}

// ---- ConfigSchema -------------------------------------------------------------------------------------------------

void ConfigSchema::declareSection(const std::string &section, std::vector<ConfigKeySpec> keys)
{
    if (sections_.find(section) == sections_.end())
        order_.push_back(section);
    sections_[section] = std::move(keys);
}

bool ConfigSchema::hasSection(std::string_view section) const
{
    return sections_.find(section) != sections_.end();
}

const std::vector<ConfigKeySpec> *ConfigSchema::section(std::string_view section) const
{
    const auto s = sections_.find(section);
    return s == sections_.end() ? nullptr : &s->second;
}

const ConfigKeySpec *ConfigSchema::key(std::string_view section, std::string_view key) const
{
    const std::vector<ConfigKeySpec> *keys = this->section(section);
    if (!keys)
        return nullptr;
    const auto k = std::find_if(keys->begin(), keys->end(), [&](const ConfigKeySpec &spec) { return spec.name == key; });
    return k == keys->end() ? nullptr : &*k;
}

// ---- validation ---------------------------------------------------------------------------------------------------

std::vector<std::string> validateConfig(const Config &config, const ConfigSchema &schema,
                                        const std::vector<std::string> &ignoredSections)
{
    std::vector<std::string> errors;
    const std::set<std::string, std::less<>> ignored(ignoredSections.begin(), ignoredSections.end());
    for (const std::string &section : config.sections()) {
        if (ignored.count(section))
            continue;
        const std::vector<ConfigKeySpec> *declared = schema.section(section);
        const std::vector<std::string> keys = config.keys(section);
        if (!declared) {
            const std::string name = keys.empty() ? "[" + section + "]" : section + "." + keys.front();
            errors.push_back("config: " + name + ": unknown section [" + section + "] (" +
                             config.sectionOrigin(section) +
                             "): no kernel section or loaded plugin has that name");
            continue;
        }
        for (const std::string &key : keys) {
            if (schema.key(section, key))
                continue;
            const Config::Entry *entry = config.entry(section, key);
            errors.push_back("config: " + section + "." + key + ": unknown key (" + (entry ? entry->origin : "") +
                             "); [" + section + "] has: " + joinNames(*declared));
        }
    }
    return errors;
}

// ---- typed values -------------------------------------------------------------------------------------------------

std::optional<uint64_t> parseUnsigned(const ConfigValueRef &ref, uint64_t min, uint64_t max, std::string *error)
{
    const std::optional<uint64_t> number = parseDigits(ref.value);
    if (!number || *number < min || *number > max) {
        std::string expected = "expected a whole number";
        if (max == std::numeric_limits<uint64_t>::max())
            expected += " >= " + std::to_string(min);
        else
            expected += " from " + std::to_string(min) + " to " + std::to_string(max);
        if (error)
            *error = badValue(ref, expected);
        return std::nullopt;
    }
    return number;
}

std::optional<bool> parseBool(const ConfigValueRef &ref, std::string *error)
{
    static const char *const kTrue[] = {"true", "yes", "on", "1"};
    static const char *const kFalse[] = {"false", "no", "off", "0"};
    for (const char *word : kTrue) {
        if (ref.value == word)
            return true;
    }
    for (const char *word : kFalse) {
        if (ref.value == word)
            return false;
    }
    if (error)
        *error = badValue(ref, "expected true or false");
    return std::nullopt;
}

std::optional<size_t> parseEnum(const ConfigValueRef &ref, const std::vector<std::string> &choices, std::string *error)
{
    for (size_t i = 0; i < choices.size(); ++i) {
        if (ref.value == choices[i])
            return i;
    }
    if (error) {
        std::string expected = "expected ";
        for (size_t i = 0; i < choices.size(); ++i) {
            if (i > 0)
                expected += i + 1 == choices.size() ? " or " : ", ";
            expected += choices[i];
        }
        *error = badValue(ref, expected);
    }
    return std::nullopt;
}

std::optional<uint64_t> parseDurationMs(const ConfigValueRef &ref, uint64_t defaultUnitMs, uint64_t minMs,
                                        uint64_t maxMs, std::string *error)
{
    const std::string_view text = ref.value;
    size_t digitsEnd = 0;
    while (digitsEnd < text.size() && text[digitsEnd] >= '0' && text[digitsEnd] <= '9')
        ++digitsEnd;
    const std::string_view suffix = trim(text.substr(digitsEnd));
    const std::optional<uint64_t> number = parseDigits(text.substr(0, digitsEnd));

    std::optional<uint64_t> unitMs;
    if (suffix.empty()) {
        unitMs = defaultUnitMs;
    } else {
        for (const DurationUnit &unit : kDurationUnits) {
            if (suffix == unit.suffix)
                unitMs = unit.ms;
        }
    }
    std::optional<uint64_t> result;
    if (number && unitMs && (*unitMs == 0 || *number <= std::numeric_limits<uint64_t>::max() / *unitMs))
        result = *number * *unitMs;
    if (!result || *result < minMs || *result > maxMs) {
        if (error) {
            const std::string plainUnit = defaultUnitMs == 1                   ? "milliseconds"
                                          : defaultUnitMs == 1000              ? "seconds"
                                          : defaultUnitMs == 3600ull * 1000    ? "hours"
                                                                               : formatDuration(defaultUnitMs) + " units";
            const std::string expected = "expected a duration from " + formatDuration(minMs) + " to " +
                                         formatDuration(maxMs) + " (" + plainUnit +
                                         ", or a whole number with a suffix ms, s, m, h or d)";
            *error = badValue(ref, expected);
        }
        return std::nullopt;
    }
    return result;
}

std::vector<std::string> splitList(std::string_view text, char separator)
{
    std::vector<std::string> items;
    while (true) {
        const size_t end = text.find(separator);
        const std::string_view item = trim(text.substr(0, end));
        if (!item.empty())
            items.emplace_back(item);
        if (end == std::string_view::npos)
            break;
        text.remove_prefix(end + 1);
    }
    return items;
}

} // namespace ferry
