#pragma once
// The command line and the connection settings: global flags, the verb's words, arguments and options, and the
// url/user/password resolved as flag > environment > config file > default.

#include <QList>
#include <QPair>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

struct Verb;

// Bad usage: unknown verb or option, wrong number of arguments, a bad value, an unreadable config file. Exit code 2.
struct UsageError {
    QString message;
    const Verb* verb = nullptr; // whose usage line to print, when known
};

// One --option. An empty valueName makes it a switch (no value).
struct OptionSpec {
    QString name;
    QString valueName;
    QString help;
};

// The flags every verb accepts: --url, --user, --password, --json, --config, --vhost, --help.
const QList<OptionSpec>& globalOptions();

using OptionValues = QList<QPair<QString, QString>>; // name (without "--") -> value ("" for a switch), in order given

struct CommandLine {
    const Verb* verb = nullptr;   // null with help: the overall help
    bool help = false;            // --help, or `ferryctl help [VERB]`
    QStringList args;             // the verb's positional arguments
    OptionValues globals;         // the global flags given
    OptionValues options;         // the verb's options given
};

// Global flags may come before or after the verb; a verb's options only after it; "--" ends the options. Accepts
// "--name value" and "--name=value". Throws UsageError.
CommandLine parseCommandLine(const QStringList& arguments);

struct Settings {
    QString url;
    QString user;
    QString password;
    QString vhost = QStringLiteral("/");
    bool vhostGiven = false; // --vhost was on the command line (list verbs then filter by it)
    bool json = false;
};

// The default config file: <generic config location>/ferry/ferryctl.conf (~/.config/ferry/ferryctl.conf on Linux).
QString defaultConfigPath();

// url/user/password from the flags, else FERRY_URL/FERRY_USER/FERRY_PASSWORD (when not empty), else the config file
// (--config, else FERRYCTL_CONFIG, else defaultConfigPath(), which may be absent), else http://127.0.0.1:15680,
// guest, guest. Throws UsageError for a named config file that cannot be read, or a line that is not `key = value`
// with a known key.
Settings resolveSettings(const OptionValues& globals, const QProcessEnvironment& environment);

// The last value given for `name`, or `fallback`.
QString lastValue(const OptionValues& values, const QString& name, const QString& fallback = {});
bool hasOption(const OptionValues& values, const QString& name);
