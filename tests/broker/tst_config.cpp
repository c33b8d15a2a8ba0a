// tst_config: the INI reader, overrides, schema validation and the typed kernel settings (broker/kernel/config).
#include "config/Config.h"
#include "config/KernelConfig.h"
#include "plugin/PluginHost.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <fstream>
#include <set>

using namespace ferry;

namespace {

bool anyContains(const std::vector<std::string> &lines, const std::string &needle)
{
    return std::any_of(lines.begin(), lines.end(), [&](const std::string &l) { return l.find(needle) != std::string::npos; });
}

QString joined(const std::vector<std::string> &lines)
{
    QStringList out;
    for (const std::string &l : lines)
        out << QString::fromStdString(l);
    return out.join(QLatin1Char('\n'));
}

Config parsed(const std::string &text)
{
    Config config;
    std::string error;
    if (!config.loadText(text, "test.conf", &error))
        qFatal("unexpected parse error: %s", error.c_str());
    return config;
}

std::vector<std::string> kernelErrors(const Config &config)
{
    std::vector<std::string> errors;
    const bool ok = checkKernelSections(config, &errors);
    if (ok != errors.empty())
        qFatal("checkKernelSections returned %d with %zu errors", ok, errors.size());
    return errors;
}

} // namespace

class TestConfig : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parsesSectionsKeysAndComments()
    {
        const Config config = parsed("# a comment\n"
                                     "; another comment\n"
                                     "\n"
                                     "  [storage]  \n"
                                     "flush=async\n"
                                     "   plugin   =   sqlite   \n"
                                     "\t# indented comment\n"
                                     "[amqp]\n"
                                     "listen =\n"
                                     "note = a # not a comment ; either\n");
        QCOMPARE(config.value("storage", "flush").value_or("?"), std::string("async"));
        QCOMPARE(config.value("storage", "plugin").value_or("?"), std::string("sqlite"));
        QVERIFY(config.value("amqp", "listen").has_value());
        QCOMPARE(*config.value("amqp", "listen"), std::string());
        QCOMPARE(config.value("amqp", "note").value_or("?"), std::string("a # not a comment ; either"));
        QVERIFY(!config.value("storage", "retention_hours").has_value());
        QVERIFY(!config.value("nosuch", "key").has_value());
        QCOMPARE(config.sections(), (std::vector<std::string>{"amqp", "storage"}));
        QCOMPARE(config.keys("storage"), (std::vector<std::string>{"flush", "plugin"}));
        QCOMPARE(config.entry("storage", "plugin")->origin, std::string("test.conf:6"));
        QCOMPARE(config.sectionOrigin("amqp"), std::string("test.conf:8"));
    }

    void acceptsCrLfBomAndEmptyInput()
    {
        const Config config = parsed("\xEF\xBB\xBF[log]\r\nlevel = debug\r\n\r\n[network]\r\nio_threads = 4");
        QCOMPARE(config.value("log", "level").value_or("?"), std::string("debug"));
        QCOMPARE(config.value("network", "io_threads").value_or("?"), std::string("4"));
        QCOMPARE(config.entry("network", "io_threads")->origin, std::string("test.conf:5"));

        const Config empty = parsed("");
        QVERIFY(empty.sections().empty());
        QVERIFY(kernelErrors(empty).empty());
    }

    void headerWithoutKeysCountsAsSection()
    {
        const Config config = parsed("[nosuchplugin]\n");
        QVERIFY(config.hasSection("nosuchplugin"));
        const std::vector<std::string> errors = validateConfig(config, kernelConfigSchema());
        QCOMPARE(errors.size(), size_t(1));
        QVERIFY2(anyContains(errors, "unknown section [nosuchplugin]"), errors.front().c_str());
        QVERIFY2(anyContains(errors, "test.conf:1"), errors.front().c_str());
    }

    void parseErrorsNameFileAndLine_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no equals") << "[storage]\n\nflush sync\n" << "config: bad.conf:3: expected 'key = value'";
        QTest::newRow("key before section") << "# c\nflush = sync\n" << "config: bad.conf:2: key 'flush' appears before";
        QTest::newRow("unclosed header") << "[storage\n" << "config: bad.conf:1: expected '[section]'";
        QTest::newRow("empty header") << "[ ]\n" << "config: bad.conf:1: invalid section name";
        QTest::newRow("dotted section") << "[a.b]\n" << "config: bad.conf:1: invalid section name 'a.b'";
        QTest::newRow("empty key") << "[storage]\n= sync\n" << "config: bad.conf:2: invalid key name ''";
        QTest::newRow("space in key") << "[storage]\nfl ush = sync\n" << "config: bad.conf:2: invalid key name 'fl ush'";
        QTest::newRow("duplicate key")
            << "[storage]\nflush = sync\n[log]\n[storage]\nflush = async\n"
            << "config: bad.conf:5: storage.flush is set twice (first at bad.conf:2)";
    }

    void parseErrorsNameFileAndLine()
    {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        Config config;
        config.set("log", "level", "debug", "earlier");
        std::string error;
        QVERIFY(!config.loadText(text.toStdString(), "bad.conf", &error));
        QVERIFY2(error.rfind(expected.toStdString(), 0) == 0, error.c_str());
        // A failed load leaves the config as it was.
        QCOMPARE(config.sections(), std::vector<std::string>{"log"});
        QCOMPARE(config.value("log", "level").value_or("?"), std::string("debug"));
    }

    void loadsFilesAndReportsMissingOnes()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.filePath("ferry.conf").toStdString();
        {
            std::ofstream out(path);
            out << "[storage]\nflush = async\n\n[log]\nlevel = bogus\n";
        }
        Config config;
        std::string error;
        QVERIFY2(config.loadFile(path, &error), error.c_str());
        QCOMPARE(config.entry("storage", "flush")->origin, path + ":2");
        const std::vector<std::string> errors = kernelErrors(config);
        QCOMPARE(errors.size(), size_t(1));
        QCOMPARE(errors.front(), "config: log.level: expected trace, debug, info, warn or error, got 'bogus' (" +
                                     path + ":5)");

        Config missing;
        QVERIFY(!missing.loadFile(dir.filePath("absent.conf").toStdString(), &error));
        QVERIFY2(error.find("absent.conf") != std::string::npos, error.c_str());
        QVERIFY2(error.rfind("config: ", 0) == 0, error.c_str());
    }

    void overridesSplitAtFirstDot()
    {
        Config config;
        std::string error;
        QVERIFY(config.applyOverride("amqp.listen=127.0.0.1:0", &error));
        QCOMPARE(config.value("amqp", "listen").value_or("?"), std::string("127.0.0.1:0"));
        QVERIFY(config.applyOverride(" storage.plugin = sqlite ", &error));
        QCOMPARE(config.value("storage", "plugin").value_or("?"), std::string("sqlite"));
        QVERIFY(config.applyOverride("x.k=a=b", &error)); // only the first '=' separates
        QCOMPARE(config.value("x", "k").value_or("?"), std::string("a=b"));
        QVERIFY(config.applyOverride("rocket.namesrv_listen=", &error)); // empty: listener off
        QVERIFY(config.value("rocket", "namesrv_listen").has_value());
        QCOMPARE(*config.value("rocket", "namesrv_listen"), std::string());
        QCOMPARE(config.entry("rocket", "namesrv_listen")->origin, std::string("--set"));

        // Everything after the first dot is the key, and keys have no dots.
        QVERIFY(!config.applyOverride("a.b.c=1", &error));
        QVERIFY2(error.find("invalid key name 'b.c'") != std::string::npos, error.c_str());
        QVERIFY(!config.applyOverride("nodot=1", &error));
        QVERIFY2(error.find("section.key=value") != std::string::npos, error.c_str());
        QVERIFY(!config.applyOverride("storage.flush", &error));
        QVERIFY2(error.find("'storage.flush'") != std::string::npos, error.c_str());
        QVERIFY(!config.applyOverride(".flush=sync", &error));
        QVERIFY(!config.applyOverride("storage.=sync", &error));
    }

    void overridesWinOverTheFileInOrder()
    {
        Config config = parsed("[storage]\nflush = async\nmax_batch = 10\n");
        std::string error;
        QVERIFY(config.applyOverride("storage.flush=sync", &error));
        QVERIFY(config.applyOverride("storage.max_batch=20", &error));
        QVERIFY(config.applyOverride("storage.max_batch=30", &error));
        BrokerSettings settings;
        std::vector<std::string> errors;
        QVERIFY2(readBrokerSettings(config, &settings, &errors), joined(errors).toUtf8());
        QCOMPARE(settings.flush, FlushMode::Sync);
        QCOMPARE(settings.maxBatch, 30u);
        QCOMPARE(config.entry("storage", "flush")->origin, std::string("--set"));

        // A later file load (not used by ferry-broker, which loads one file first) also replaces values.
        QVERIFY(config.loadText("[storage]\nmax_batch = 40\n", "second.conf", &error));
        QVERIFY(readBrokerSettings(config, &settings, &errors));
        QCOMPARE(settings.maxBatch, 40u);
    }

    void unknownKeysAndSectionsAreErrors()
    {
        const Config config = parsed("[storage]\nflsh = sync\n[network]\nio_threads = 2\n[amqpp]\nlisten = :1\n");
        std::vector<std::string> errors = kernelErrors(config);
        // Before plugins load, only kernel sections are checked.
        QCOMPARE(errors.size(), size_t(1));
        QVERIFY2(errors.front().rfind("config: storage.flsh: unknown key (test.conf:2)", 0) == 0,
                 errors.front().c_str());
        QVERIFY2(anyContains(errors, "flush_interval_ms"), errors.front().c_str()); // lists the valid keys

        errors = validateConfig(config, kernelConfigSchema());
        QCOMPARE(errors.size(), size_t(2));
        QVERIFY2(anyContains(errors, "config: amqpp.listen: unknown section [amqpp] (test.conf:5)"),
                 joined(errors).toUtf8());

        // Sections named in the ignore list (plugins.disabled) are not checked.
        errors = validateConfig(config, kernelConfigSchema(), {"amqpp"});
        QCOMPARE(errors.size(), size_t(1));
        QVERIFY(anyContains(errors, "storage.flsh"));
    }

    void pluginSectionsFollowTheirDeclaredKeys()
    {
        ConfigSchema schema = kernelConfigSchema();
        schema.declareSection("file", {{"segment_bytes", "1073741824", "segment size"}});
        schema.declareSection("amqp", {{"listen", "0.0.0.0:5672", "AMQP listener"}});
        const Config config = parsed("[file]\nsegment_bytes = 1024\nsegment_size = 1\n[amqp]\nlisten =\n");
        const std::vector<std::string> errors = validateConfig(config, schema);
        QCOMPARE(errors.size(), size_t(1));
        QVERIFY2(errors.front().rfind("config: file.segment_size: unknown key (test.conf:3); [file] has: "
                                      "segment_bytes",
                                      0) == 0,
                 errors.front().c_str());
        QCOMPARE(schema.key("amqp", "listen")->defaultValue, std::string("0.0.0.0:5672"));
    }

    void pluginSectionsNeedALoadedPlugin()
    {
        PluginHost host([](std::string_view, std::string_view) { return std::optional<std::string>(); });
        const Config config = parsed("[amqp]\nlisten = 127.0.0.1:0\n[rocket]\nlisten =\n");
        std::vector<std::string> errors;
        PluginSettings plugins;
        plugins.disabled = {"rocket"};
        QVERIFY(!checkPluginSections(config, host, plugins, &errors));
        // [amqp] is not loaded; [rocket] is disabled (not checked); storage.plugin=file is not loaded either.
        QCOMPARE(errors.size(), size_t(2));
        QVERIFY2(anyContains(errors, "config: amqp.listen: unknown section [amqp] (test.conf:1)"),
                 joined(errors).toUtf8());
        QVERIFY2(anyContains(errors, "config: storage.plugin: 'file' is not loaded (built-in default); storage "
                                     "plugins loaded: none"),
                 joined(errors).toUtf8());
        QVERIFY(!anyContains(errors, "rocket"));

        plugins.disabled = {"file"};
        errors.clear();
        QVERIFY(!checkPluginSections(parsed(""), host, plugins, &errors));
        QCOMPARE(errors.size(), size_t(1));
        QVERIFY2(anyContains(errors, "config: storage.plugin: 'file' is listed in plugins.disabled"),
                 joined(errors).toUtf8());
    }

    void badValuesNameTheKey_data()
    {
        QTest::addColumn<QString>("assignment");
        QTest::addColumn<QString>("expected");
        QTest::newRow("enum") << "storage.flush=fast" << "config: storage.flush: expected sync or async, got 'fast' (--set)";
        QTest::newRow("enum case") << "storage.flush=SYNC" << "config: storage.flush: expected sync or async, got 'SYNC'";
        QTest::newRow("zero threads") << "network.io_threads=0"
                                      << "config: network.io_threads: expected a whole number from 1 to 64, got '0'";
        QTest::newRow("too many threads") << "network.io_threads=65" << "config: network.io_threads: expected a whole";
        QTest::newRow("not a number") << "network.io_threads=two" << "config: network.io_threads: expected a whole";
        QTest::newRow("negative") << "storage.retention_bytes=-1" << "config: storage.retention_bytes: expected a whole number >= 0, got '-1'";
        QTest::newRow("overflow") << "storage.retention_bytes=99999999999999999999999"
                                  << "config: storage.retention_bytes: expected a whole number";
        QTest::newRow("fraction") << "storage.max_batch=1.5" << "config: storage.max_batch: expected a whole number from 1 to 1048576";
        QTest::newRow("empty int") << "storage.max_batch=" << "config: storage.max_batch: expected a whole number from 1 to 1048576, got ''";
        QTest::newRow("frame too small") << "network.max_frame_bytes=100" << "config: network.max_frame_bytes: expected a whole number from 4096";
        QTest::newRow("pending too large") << "network.max_pending_write_bytes=4294967297" << "config: network.max_pending_write_bytes:";
        QTest::newRow("duration unit") << "storage.flush_interval_ms=5 parsecs" << "config: storage.flush_interval_ms: expected a duration";
        QTest::newRow("duration zero") << "storage.flush_interval_ms=0" << "config: storage.flush_interval_ms: expected a duration from 1ms to 1m";
        QTest::newRow("duration too long") << "storage.flush_interval_ms=2m" << "config: storage.flush_interval_ms: expected a duration";
        QTest::newRow("retention zero") << "storage.retention_hours=0" << "config: storage.retention_hours: expected a duration from 1s";
        QTest::newRow("idle too long") << "network.idle_timeout_ms=2d" << "config: network.idle_timeout_ms: expected a duration from 0 to 1d";
        QTest::newRow("bool") << "log.console=maybe" << "config: log.console: expected true or false, got 'maybe'";
        QTest::newRow("level") << "log.level=verbose" << "config: log.level: expected trace, debug, info, warn or error, got 'verbose'";
        QTest::newRow("max files") << "log.max_files=1001" << "config: log.max_files: expected a whole number from 0 to 1000";
        QTest::newRow("log size") << "log.max_file_bytes=10" << "config: log.max_file_bytes: expected a whole number >= 1024";
        QTest::newRow("data dir") << "broker.data_dir=" << "config: broker.data_dir: expected a directory, got ''";
        QTest::newRow("storage name") << "storage.plugin=File Store" << "config: storage.plugin: expected a plugin name";
        QTest::newRow("disabled name") << "plugins.disabled=amqp, Bad Name" << "config: plugins.disabled: 'Bad Name' is not a plugin name";
    }

    void badValuesNameTheKey()
    {
        QFETCH(QString, assignment);
        QFETCH(QString, expected);
        Config config;
        std::string error;
        QVERIFY2(config.applyOverride(assignment.toStdString(), &error), error.c_str());
        const std::vector<std::string> errors = kernelErrors(config);
        QVERIFY2(errors.size() == 1, joined(errors).toUtf8());
        QVERIFY2(errors.front().rfind(expected.toStdString(), 0) == 0, errors.front().c_str());
        // The typed reader refuses the value too, rather than falling back to a default.
        BrokerSettings settings;
        LogSettings log;
        PluginSettings plugins;
        const bool allRead = readBrokerSettings(config, &settings, nullptr) &&
                             readLogSettings(config, "data", &log, nullptr) &&
                             readPluginSettings(config, &plugins, nullptr);
        QVERIFY(!allRead);
    }

    void typedValuesAndDurations()
    {
        Config config = parsed("[storage]\n"
                               "flush = async\n"
                               "flush_interval_ms = 1s\n"
                               "retention_hours = 7d\n"
                               "retention_bytes = 1073741824\n"
                               "maintain_interval_ms = 250\n"
                               "max_batch = 1\n"
                               "[network]\n"
                               "io_threads = 64\n"
                               "max_frame_bytes = 4096\n"
                               "max_pending_write_bytes = 4294967296\n"
                               "idle_timeout_ms = 30s\n"
                               "[broker]\n"
                               "data_dir = /var/lib/ferry\n");
        BrokerSettings settings;
        std::vector<std::string> errors;
        QVERIFY2(readBrokerSettings(config, &settings, &errors), joined(errors).toUtf8());
        QCOMPARE(settings.dataDir, std::filesystem::path("/var/lib/ferry"));
        QCOMPARE(settings.flush, FlushMode::Async);
        QCOMPARE(settings.flushIntervalMs, 1000u);
        QCOMPARE(settings.retentionMs, uint64_t(7) * 24 * 3600 * 1000);
        QCOMPARE(settings.retentionBytes, uint64_t(1) << 30);
        QCOMPARE(settings.maintainIntervalMs, 250u);
        QCOMPARE(settings.maxBatch, 1u);
        QCOMPARE(settings.network.ioThreads, 64u);
        QCOMPARE(settings.network.maxFrameBytes, uint64_t(4096));
        QCOMPARE(settings.network.maxPendingWriteBytes, uint64_t(1) << 32);
        QCOMPARE(settings.network.idleTimeoutMs, 30000u);

        std::string error;
        QVERIFY(config.applyOverride("storage.retention_hours=90m", &error));
        QVERIFY(readBrokerSettings(config, &settings, &errors));
        QCOMPARE(settings.retentionMs, uint64_t(90) * 60 * 1000);
        QVERIFY(config.applyOverride("storage.retention_hours=5", &error));
        QVERIFY(readBrokerSettings(config, &settings, &errors));
        QCOMPARE(settings.retentionMs, uint64_t(5) * 3600 * 1000);

        const ConfigValueRef ref{"x.y", "1500ms", ""};
        QCOMPARE(parseDurationMs(ref, 1000, 0, 10000, &error).value_or(0), uint64_t(1500));
        QCOMPARE(parseBool({"x.y", "off", ""}, &error).value_or(true), false);
        QCOMPARE(parseBool({"x.y", "yes", ""}, &error).value_or(false), true);
        QCOMPARE(parseEnum({"x.y", "b", ""}, {"a", "b", "c"}, &error).value_or(9), size_t(1));
        QVERIFY(!parseEnum({"x.y", "d", ""}, {"a", "b", "c"}, &error));
        QCOMPARE(error, std::string("config: x.y: expected a, b or c, got 'd'"));
    }

    void defaultsMatchBrokerSettings()
    {
        const Config empty;
        BrokerSettings fromConfig;
        std::vector<std::string> errors;
        QVERIFY2(readBrokerSettings(empty, &fromConfig, &errors), joined(errors).toUtf8());
        const BrokerSettings builtIn;
        QCOMPARE(fromConfig.dataDir, builtIn.dataDir);
        QCOMPARE(fromConfig.storagePlugin, builtIn.storagePlugin);
        QCOMPARE(fromConfig.flush, builtIn.flush);
        QCOMPARE(fromConfig.flushIntervalMs, builtIn.flushIntervalMs);
        QCOMPARE(fromConfig.retentionMs, builtIn.retentionMs);
        QCOMPARE(fromConfig.retentionBytes, builtIn.retentionBytes);
        QCOMPARE(fromConfig.maintainIntervalMs, builtIn.maintainIntervalMs);
        QCOMPARE(fromConfig.maxBatch, builtIn.maxBatch);
        QCOMPARE(fromConfig.network.ioThreads, builtIn.network.ioThreads);
        QCOMPARE(fromConfig.network.maxFrameBytes, builtIn.network.maxFrameBytes);
        QCOMPARE(fromConfig.network.maxPendingWriteBytes, builtIn.network.maxPendingWriteBytes);
        QCOMPARE(fromConfig.network.idleTimeoutMs, builtIn.network.idleTimeoutMs);

        LogSettings log;
        QVERIFY(readLogSettings(empty, readDataDir(empty), &log, &errors));
        QCOMPARE(log.file, std::filesystem::path("data/logs/ferry.log"));
        QCOMPARE(log.level, spdlog::level::info);
        QCOMPARE(log.maxFileBytes, uint64_t(10485760));
        QCOMPARE(log.maxFiles, 5u);
        QCOMPARE(log.console, true);

        PluginSettings plugins;
        QVERIFY(readPluginSettings(empty, &plugins, &errors));
        QVERIFY(plugins.dirs.empty());
        QVERIFY(plugins.disabled.empty());
    }

    void logAndPluginSettings()
    {
        Config config = parsed("[broker]\ndata_dir = /srv/ferry\n[log]\nlevel = trace\nconsole = false\n"
                               "max_files = 0\n[plugins]\ndirs = /opt/a ; relative/b ;\ndisabled = amqp, rocket,\n");
        LogSettings log;
        std::vector<std::string> errors;
        QVERIFY2(readLogSettings(config, readDataDir(config), &log, &errors), joined(errors).toUtf8());
        QCOMPARE(log.file, std::filesystem::path("/srv/ferry/logs/ferry.log"));
        QCOMPARE(log.level, spdlog::level::trace);
        QCOMPARE(log.console, false);
        QCOMPARE(log.maxFiles, 0u);

        PluginSettings plugins;
        QVERIFY2(readPluginSettings(config, &plugins, &errors), joined(errors).toUtf8());
        QCOMPARE(plugins.dirs, (std::vector<std::filesystem::path>{"/opt/a", "relative/b"}));
        QCOMPARE(plugins.disabled, (std::vector<std::string>{"amqp", "rocket"}));

        std::string error;
        QVERIFY(config.applyOverride("log.file=", &error)); // empty: no log file
        QVERIFY(readLogSettings(config, readDataDir(config), &log, &errors));
        QVERIFY(log.file.empty());
        QVERIFY(config.applyOverride("log.file=${data_dir}/x/${data_dir}.log", &error));
        QVERIFY(readLogSettings(config, "d", &log, &errors));
        QCOMPARE(log.file, std::filesystem::path("d/x/d.log"));
        QVERIFY(config.applyOverride("log.file=elsewhere/ferry.log", &error));
        QVERIFY(readLogSettings(config, "d", &log, &errors));
        QCOMPARE(log.file, std::filesystem::path("elsewhere/ferry.log"));
    }

    void everyErrorIsReportedNotJustTheFirst()
    {
        const Config config = parsed("[storage]\nflush = fast\nmax_batch = 0\nbogus = 1\n[log]\nlevel = loud\n");
        const std::vector<std::string> errors = kernelErrors(config);
        QCOMPARE(errors.size(), size_t(4));
        QVERIFY(anyContains(errors, "storage.flush:"));
        QVERIFY(anyContains(errors, "storage.max_batch:"));
        QVERIFY(anyContains(errors, "storage.bogus: unknown key"));
        QVERIFY(anyContains(errors, "log.level:"));
        for (const std::string &e : errors)
            QVERIFY2(e.rfind("config: ", 0) == 0, e.c_str());
    }

    // packaging/ferry.conf is the documented default config: it must hold every kernel key with its built-in
    // default, and nothing else, so loading it changes nothing.
    void packagedConfigMatchesTheSchema()
    {
        Config config;
        std::string error;
        QVERIFY2(config.loadFile(FERRY_PACKAGED_CONFIG, &error), error.c_str());
        const std::vector<std::string> errors = kernelErrors(config);
        QVERIFY2(errors.empty(), joined(errors).toUtf8());

        const ConfigSchema schema = kernelConfigSchema();
        std::set<std::string> declared;
        for (const std::string &section : schema.sectionNames()) {
            QVERIFY2(config.hasSection(section), section.c_str());
            for (const ConfigKeySpec &spec : *schema.section(section)) {
                const std::string name = section + "." + spec.name;
                declared.insert(name);
                const std::optional<std::string> value = config.value(section, spec.name);
                QVERIFY2(value.has_value(), ("ferry.conf lacks " + name).c_str());
                QVERIFY2(*value == spec.defaultValue,
                         (name + ": ferry.conf has '" + *value + "', default is '" + spec.defaultValue + "'").c_str());
                QVERIFY2(!spec.description.empty(), name.c_str());
            }
        }
        for (const std::string &section : config.sections()) {
            for (const std::string &key : config.keys(section))
                QVERIFY2(declared.count(section + "." + key), (section + "." + key).c_str());
        }
    }

    // docs/configuration.md documents every kernel key with its default.
    void documentationNamesEveryKey()
    {
        std::ifstream in(FERRY_CONFIG_DOC);
        QVERIFY2(in.good(), FERRY_CONFIG_DOC);
        const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const ConfigSchema schema = kernelConfigSchema();
        for (const std::string &section : schema.sectionNames()) {
            QVERIFY2(doc.find("[" + section + "]") != std::string::npos, section.c_str());
            for (const ConfigKeySpec &spec : *schema.section(section)) {
                const std::string shownDefault = spec.defaultValue.empty() ? "(empty)" : "`" + spec.defaultValue + "`";
                const std::string row = "| `" + spec.name + "` | " + shownDefault + " |";
                QVERIFY2(doc.find(row) != std::string::npos, ("docs/configuration.md lacks the row " + row).c_str());
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestConfig)
#include "tst_config.moc"
