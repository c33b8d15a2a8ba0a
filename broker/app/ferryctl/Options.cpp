#include "Options.h"

#include "Verbs.h"

#include <QFile>
#include <QStandardPaths>

const QList<OptionSpec>& globalOptions()
{
    static const QList<OptionSpec> options = {
        {"url", "URL", "the admin API (default http://127.0.0.1:15680; env FERRY_URL)"},
        {"user", "USER", "user name (default guest; env FERRY_USER)"},
        {"password", "PW", "password (default guest; env FERRY_PASSWORD)"},
        {"config", "FILE", "config file (default ~/.config/ferry/ferryctl.conf; env FERRYCTL_CONFIG)"},
        {"vhost", "V", "the vhost of the AMQP verbs (default /)"},
        {"json", "", "print the API's JSON answer, indented, instead of a table"},
        {"help", "", "this help, or the verb's (also -h)"},
    };
    return options;
}

QString lastValue(const OptionValues& values, const QString& name, const QString& fallback)
{
    for (auto it = values.crbegin(); it != values.crend(); ++it)
        if (it->first == name)
            return it->second;
    return fallback;
}

bool hasOption(const OptionValues& values, const QString& name)
{
    for (const auto& v : values)
        if (v.first == name)
            return true;
    return false;
}

namespace {

const OptionSpec* findSpec(const QList<OptionSpec>& specs, const QString& name)
{
    for (const OptionSpec& s : specs)
        if (s.name == name)
            return &s;
    return nullptr;
}

} // namespace

CommandLine parseCommandLine(const QStringList& arguments)
{
    CommandLine cl;
    QStringList words;       // the verb's words, while it is not known yet
    bool helpVerb = false;   // `ferryctl help ...`
    bool optionsEnded = false;

    for (int i = 0; i < arguments.size(); ++i) {
        const QString& arg = arguments.at(i);
        if (!optionsEnded && arg == QLatin1String("--")) {
            optionsEnded = true;
            continue;
        }
        if (!optionsEnded && arg.startsWith(QLatin1String("--"))) {
            QString name = arg.mid(2);
            QString value;
            bool inlineValue = false;
            if (const qsizetype eq = name.indexOf('='); eq >= 0) {
                value = name.mid(eq + 1);
                name = name.left(eq);
                inlineValue = true;
            }
            const OptionSpec* spec = findSpec(globalOptions(), name);
            const bool global = spec != nullptr;
            if (!spec && cl.verb)
                spec = findSpec(cl.verb->options, name);
            if (!spec)
                throw UsageError{cl.verb ? QStringLiteral("unknown option '--%1' for '%2'").arg(name, cl.verb->name)
                                         : QStringLiteral("unknown option '--%1'").arg(name),
                                 cl.verb};
            if (spec->valueName.isEmpty()) {
                if (inlineValue)
                    throw UsageError{QStringLiteral("'--%1' takes no value").arg(name), cl.verb};
            } else if (!inlineValue) {
                if (i + 1 >= arguments.size())
                    throw UsageError{QStringLiteral("'--%1' needs a value (%2)").arg(name, spec->valueName), cl.verb};
                value = arguments.at(++i);
            }
            if (name == QLatin1String("help"))
                cl.help = true;
            else
                (global ? cl.globals : cl.options).append({name, value});
            continue;
        }
        if (!optionsEnded && arg == QLatin1String("-h")) {
            cl.help = true;
            continue;
        }
        if (cl.verb) {
            cl.args << arg;
            continue;
        }
        if (words.isEmpty() && !helpVerb && arg == QLatin1String("help")) {
            helpVerb = true;
            continue;
        }
        words << arg;
        bool group = false;
        cl.verb = findVerb(words, &group);
        if (!cl.verb && !group)
            throw UsageError{QStringLiteral("unknown verb '%1'").arg(words.join(' '))};
    }

    if (helpVerb || cl.help) {
        if (!words.isEmpty() && !cl.verb)
            throw UsageError{QStringLiteral("'%1' needs one of: %2").arg(words.first(), groupMembers(words.first()))};
        if (helpVerb && !cl.args.isEmpty())
            throw UsageError{QStringLiteral("help takes one verb")};
        cl.help = true;
        return cl;
    }
    if (!cl.verb) {
        if (words.isEmpty())
            throw UsageError{QStringLiteral("no verb given")};
        throw UsageError{QStringLiteral("'%1' needs one of: %2").arg(words.first(), groupMembers(words.first()))};
    }
    const int n = static_cast<int>(cl.args.size());
    if (n < cl.verb->minArgs)
        throw UsageError{QStringLiteral("'%1' needs more arguments").arg(cl.verb->name), cl.verb};
    if (cl.verb->maxArgs >= 0 && n > cl.verb->maxArgs)
        throw UsageError{QStringLiteral("too many arguments for '%1'").arg(cl.verb->name), cl.verb};
    return cl;
}

QString defaultConfigPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) +
           QLatin1String("/ferry/ferryctl.conf");
}

namespace {

struct ConfigValues {
    QString url;
    QString user;
    QString password;
};

ConfigValues readConfig(const QString& path, bool mustExist)
{
    ConfigValues values;
    QFile file(path);
    if (!file.exists() && !mustExist)
        return values;
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
        throw UsageError{QStringLiteral("cannot read the config file %1: %2").arg(path, file.errorString())};
    int lineNumber = 0;
    while (!file.atEnd()) {
        ++lineNumber;
        const QString line = QString::fromUtf8(file.readLine()).trimmed();
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const qsizetype eq = line.indexOf('=');
        if (eq < 0)
            throw UsageError{QStringLiteral("%1:%2: expected 'key = value'").arg(path).arg(lineNumber)};
        const QString key = line.left(eq).trimmed();
        const QString value = line.mid(eq + 1).trimmed();
        if (key == QLatin1String("url"))
            values.url = value;
        else if (key == QLatin1String("user"))
            values.user = value;
        else if (key == QLatin1String("password"))
            values.password = value;
        else
            throw UsageError{QStringLiteral("%1:%2: unknown key '%3' (known: url, user, password)")
                                 .arg(path).arg(lineNumber).arg(key)};
    }
    return values;
}

} // namespace

Settings resolveSettings(const OptionValues& globals, const QProcessEnvironment& environment)
{
    QString configPath = lastValue(globals, "config");
    bool mustExist = !configPath.isEmpty();
    if (configPath.isEmpty()) {
        configPath = environment.value("FERRYCTL_CONFIG");
        mustExist = !configPath.isEmpty();
    }
    if (configPath.isEmpty())
        configPath = defaultConfigPath();
    const ConfigValues config = readConfig(configPath, mustExist);

    auto pick = [&](const char* flag, const char* env, const QString& fromConfig, const char* fallback) {
        if (hasOption(globals, flag))
            return lastValue(globals, flag);
        const QString fromEnv = environment.value(env);
        if (!fromEnv.isEmpty())
            return fromEnv;
        if (!fromConfig.isEmpty())
            return fromConfig;
        return QString::fromLatin1(fallback);
    };
    Settings s;
    s.url = pick("url", "FERRY_URL", config.url, "http://127.0.0.1:15680");
    s.user = pick("user", "FERRY_USER", config.user, "guest");
    s.password = pick("password", "FERRY_PASSWORD", config.password, "guest");
    s.vhostGiven = hasOption(globals, "vhost");
    if (s.vhostGiven)
        s.vhost = lastValue(globals, "vhost");
    s.json = hasOption(globals, "json");
    return s;
}
