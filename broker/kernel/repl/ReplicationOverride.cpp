#include "repl/ReplicationOverride.h"

#include "config/Config.h"

#include <QDateTime>
#include <QSaveFile>
#include <QString>

namespace ferry::repl {

std::filesystem::path replicationOverridePath(const std::filesystem::path &dataDir)
{
    return dataDir / "replication-override.conf";
}

bool updateReplicationOverride(const std::filesystem::path &file, const std::map<std::string, std::string> &values,
                               std::string *error)
{
    std::map<std::string, std::map<std::string, std::string>> sections; // section -> key -> value
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) {
        Config old;
        if (!old.loadFile(file, error))
            return false;
        for (const std::string &section : old.sections())
            for (const std::string &key : old.keys(section))
                sections[section][key] = old.value(section, key).value_or("");
    }
    for (const auto &[name, value] : values) {
        const size_t dot = name.find('.');
        sections[name.substr(0, dot)][name.substr(dot + 1)] = value;
    }
    std::string text = "# Written by ferry-broker (replication " +
                       QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString() +
                       "): a promotion or a re-pointing. Read after the config file and --set, so these values win.\n"
                       "# Delete this file to go back to the config file's replication settings.\n";
    for (const auto &[section, keys] : sections) {
        text += "\n[" + section + "]\n";
        for (const auto &[key, value] : keys)
            text += key + " = " + value + "\n";
    }
    QSaveFile out(QString::fromStdU16String(file.u16string()));
    if (!out.open(QIODevice::WriteOnly) || out.write(text.data(), static_cast<qint64>(text.size())) < 0 ||
        !out.commit()) {
        *error = "cannot write " + file.string() + ": " + out.errorString().toStdString();
        return false;
    }
    return true;
}

} // namespace ferry::repl
