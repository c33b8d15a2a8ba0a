// tst_plugin_host: PluginHost against the test plugins built in tests/plugin_host/plugins/.
// Every refusal must name the file and the reason, in refusals() and in exactly one warn line of the kernel log;
// good plugins load with the fields they declare; each plugin's host table logs under the plugin's name and answers
// config_get from the ConfigLookup, else the declared default, else FERRY_E_NOT_FOUND.
#include "plugin/PluginHost.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QtTest>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <map>
#include <mutex>

using ferry::LoadedPlugin;
using ferry::PluginHost;
using ferry::PluginRefusal;

namespace {

// Keeps every formatted line ("<logger>|<level>|<text>") written through the loggers that share it.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
public:
    struct Line {
        spdlog::level::level_enum level;
        QString text;
    };
    std::vector<Line> lines()
    {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    void clear()
    {
        std::lock_guard lock(mutex_);
        lines_.clear();
    }

protected:
    void sink_it_(const spdlog::details::log_msg &msg) override
    {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        QString text = QString::fromUtf8(formatted.data(), static_cast<qsizetype>(formatted.size())).trimmed();
        lines_.push_back(Line{msg.level, text});
    }
    void flush_() override {}

private:
    std::vector<Line> lines_;
};

std::filesystem::path testPlugin(const char *name)
{
    return std::filesystem::path(FERRY_TEST_PLUGIN_DIR) / (std::string(name) + FERRY_TEST_PLUGIN_SUFFIX);
}

QString text(const std::filesystem::path &path)
{
    return QString::fromStdU16String(path.u16string());
}

QString abi(int major, int minor)
{
    return QStringLiteral("%1.%2").arg(major).arg(minor);
}

// A lookup answering from a map of "section.key" -> value.
PluginHost::ConfigLookup mapLookup(std::map<std::string, std::string> values)
{
    return [values = std::move(values)](std::string_view section, std::string_view key) -> std::optional<std::string> {
        const auto it = values.find(std::string(section) + "." + std::string(key));
        if (it == values.end())
            return std::nullopt;
        return it->second;
    };
}

PluginHost::ConfigLookup emptyLookup()
{
    return mapLookup({});
}

struct ConfigAnswer {
    ferry_status status;
    std::string value;
    size_t length;
};

ConfigAnswer configGet(const ferry_host *host, const char *key, size_t cap = 256)
{
    std::vector<char> buf(cap + 1, 'x');
    size_t length = 12345;
    const ferry_status status = host->config_get(host->ctx, key, cap > 0 ? buf.data() : nullptr, cap, &length);
    return ConfigAnswer{status, cap > 0 ? std::string(buf.data()) : std::string(), length};
}

} // namespace

class TestPluginHost : public QObject {
    Q_OBJECT

private:
    std::shared_ptr<CaptureSink> sink_;

    std::vector<CaptureSink::Line> warnLines()
    {
        std::vector<CaptureSink::Line> out;
        for (const auto &line : sink_->lines()) {
            if (line.level == spdlog::level::warn)
                out.push_back(line);
        }
        return out;
    }

    bool hasLine(const QString &needle)
    {
        for (const auto &line : sink_->lines()) {
            if (line.text.contains(needle))
                return true;
        }
        return false;
    }

private Q_SLOTS:
    void initTestCase()
    {
        // Every logger the host creates for a plugin shares the default logger's sinks, so capture there.
        sink_ = std::make_shared<CaptureSink>();
        sink_->set_pattern("%n|%l|%v");
        auto logger = std::make_shared<spdlog::logger>("", sink_);
        logger->set_level(spdlog::level::trace);
        spdlog::set_default_logger(logger);
        QVERIFY(std::filesystem::is_directory(FERRY_TEST_PLUGIN_DIR));
    }

    void init() { sink_->clear(); }

    void goodStorageLoads()
    {
        PluginHost host(emptyLookup());
        const auto file = testPlugin("good_storage");
        QVERIFY(host.loadFile(file));
        QCOMPARE(host.plugins().size(), size_t(1));
        QVERIFY(host.refusals().empty());
        QVERIFY(warnLines().empty());

        const LoadedPlugin *plugin = host.find("test_storage");
        QVERIFY(plugin != nullptr);
        QCOMPARE(plugin, host.plugins().front().get());
        QCOMPARE(plugin->file, std::filesystem::absolute(file));
        QCOMPARE(plugin->name, std::string("test_storage"));
        QCOMPARE(plugin->kind, FERRY_PLUGIN_KIND_STORAGE);
        QCOMPARE(plugin->version, std::string("1.2.3"));
        QCOMPARE(plugin->license, std::string("MIT"));
        QCOMPARE(plugin->description, std::string("good storage test plugin"));
        QCOMPARE(plugin->abiMajor, uint16_t(FERRY_ABI_MAJOR));
        QCOMPARE(plugin->abiMinor, uint16_t(FERRY_ABI_MINOR));
        QCOMPARE(plugin->configKeys.size(), size_t(2));
        QCOMPARE(plugin->configKeys[0].name, std::string("caps"));
        QCOMPARE(plugin->configKeys[0].defaultValue, std::string("3"));
        QCOMPARE(plugin->configKeys[0].description, std::string("capability bits capabilities() reports"));
        QCOMPARE(plugin->configKeys[1].name, std::string("data_name"));
        QCOMPARE(plugin->configKeys[1].defaultValue, std::string(""));
        QVERIFY(plugin->listeners.empty());

        // The vtable copy: required members present, the optional ones the plugin left out are null.
        QCOMPARE(plugin->storage.struct_size, uint32_t(sizeof(ferry_storage_vtable)));
        QVERIFY(plugin->storage.open != nullptr);
        QVERIFY(plugin->storage.read != nullptr);
        QVERIFY(plugin->storage.sync != nullptr);
        QVERIFY(plugin->storage.seek_time == nullptr);
        QVERIFY(plugin->storage.maintain == nullptr);
        QVERIFY(plugin->storage.control != nullptr);
        QVERIFY(plugin->protocol.init == nullptr);

        // The host table the plugin was given carries the kernel's ABI version.
        QVERIFY(plugin->host != nullptr);
        QCOMPARE(plugin->host->struct_size, uint32_t(sizeof(ferry_host)));
        QCOMPARE(plugin->host->abi_major, uint16_t(FERRY_ABI_MAJOR));
        QCOMPARE(plugin->host->abi_minor, uint16_t(FERRY_ABI_MINOR));

        // The vtable works, and reaches config through the host table: caps defaults to "3".
        ferry_storage_options options{};
        options.struct_size = sizeof options;
        options.data_dir = ".";
        ferry_storage *storage = nullptr;
        char err[128] = {};
        QCOMPARE(plugin->storage.open(plugin->host, &options, &storage, err, sizeof err), FERRY_OK);
        QVERIFY(storage != nullptr);
        QCOMPARE(plugin->storage.capabilities(storage), uint64_t(3));
        plugin->storage.close(storage);

        // A line logged during the query, before the plugin had a name, carries the file name.
        QVERIFY(hasLine(QStringLiteral("[good_storage%1] good_storage query called").arg(FERRY_TEST_PLUGIN_SUFFIX)));
    }

    void goodProtocolLoads()
    {
        PluginHost host(emptyLookup());
        QVERIFY(host.loadFile(testPlugin("good_protocol")));
        const LoadedPlugin *plugin = host.find("test-protocol");
        QVERIFY(plugin != nullptr);
        QCOMPARE(plugin->kind, FERRY_PLUGIN_KIND_PROTOCOL);
        QCOMPARE(plugin->version, std::string("4.5.6"));
        QCOMPARE(plugin->license, std::string("BSD-3-Clause"));
        QCOMPARE(plugin->description, std::string("good protocol test plugin"));

        QCOMPARE(plugin->listeners.size(), size_t(2));
        QCOMPARE(std::string(plugin->listeners[0].config_key), std::string("listen"));
        QCOMPARE(std::string(plugin->listeners[0].default_address), std::string("127.0.0.1:5999"));
        QCOMPARE(std::string(plugin->listeners[1].config_key), std::string("admin_listen"));
        QCOMPARE(std::string(plugin->listeners[1].default_address), std::string(""));

        // Declared keys: the descriptor's, then one per listener with the default address as default.
        QCOMPARE(plugin->configKeys.size(), size_t(3));
        QCOMPARE(plugin->configKeys[0].name, std::string("greeting"));
        QCOMPARE(plugin->configKeys[0].defaultValue, std::string("hello"));
        QCOMPARE(plugin->configKeys[1].name, std::string("listen"));
        QCOMPARE(plugin->configKeys[1].defaultValue, std::string("127.0.0.1:5999"));
        QCOMPARE(plugin->configKeys[1].description, std::string("the main listener"));
        QCOMPARE(plugin->configKeys[2].name, std::string("admin_listen"));

        QVERIFY(plugin->protocol.init != nullptr);
        QVERIFY(plugin->protocol.on_close != nullptr);
        QVERIFY(plugin->protocol.shutdown == nullptr);
        QVERIFY(plugin->storage.open == nullptr);

        // init() reads its greeting and logs it through the per-plugin table: the line carries the plugin's name.
        ferry_protocol_host protocolHost{};
        protocolHost.struct_size = sizeof protocolHost;
        protocolHost.base = plugin->host;
        ferry_protocol *instance = nullptr;
        char err[128] = {};
        QCOMPARE(plugin->protocol.init(&protocolHost, &instance, err, sizeof err), FERRY_OK);
        QVERIFY(hasLine(QStringLiteral("test-protocol|info|greeting=hello")));
    }

    void configGetAnswersOverrideDefaultAndUndeclared()
    {
        PluginHost host(mapLookup({{"test-protocol.greeting", "bonjour"},
                                   {"test-protocol.admin_listen", "127.0.0.1:6000"},
                                   {"test-protocol.undeclared", "set but not declared"},
                                   {"test_storage.listen", "another plugin's section"}}));
        QVERIFY(host.loadFile(testPlugin("good_protocol")));
        const ferry_host *table = host.find("test-protocol")->host;

        ConfigAnswer answer = configGet(table, "greeting");
        QCOMPARE(answer.status, FERRY_OK);
        QCOMPARE(answer.value, std::string("bonjour"));
        QCOMPARE(answer.length, size_t(7));

        answer = configGet(table, "listen"); // listener key, not configured: its default address
        QCOMPARE(answer.status, FERRY_OK);
        QCOMPARE(answer.value, std::string("127.0.0.1:5999"));

        answer = configGet(table, "admin_listen"); // listener key, configured
        QCOMPARE(answer.status, FERRY_OK);
        QCOMPARE(answer.value, std::string("127.0.0.1:6000"));

        QCOMPARE(configGet(table, "undeclared").status, FERRY_E_NOT_FOUND);
        QCOMPARE(configGet(table, "").status, FERRY_E_NOT_FOUND);
        QCOMPARE(table->config_get(table->ctx, nullptr, nullptr, 0, nullptr), FERRY_E_INVALID_ARGUMENT);

        // Too small a buffer: truncated, NUL-terminated, full length reported.
        answer = configGet(table, "greeting", 4);
        QCOMPARE(answer.status, FERRY_E_TOO_LARGE);
        QCOMPARE(answer.value, std::string("bon"));
        QCOMPARE(answer.length, size_t(7));
        answer = configGet(table, "greeting", 0);
        QCOMPARE(answer.status, FERRY_E_TOO_LARGE);
        QCOMPARE(answer.length, size_t(7));
        answer = configGet(table, "greeting", 8); // exactly fits with its NUL
        QCOMPARE(answer.status, FERRY_OK);
        QCOMPARE(answer.value, std::string("bonjour"));

        // The storage plugin's config is answered from its own section only.
        QVERIFY(host.loadFile(testPlugin("good_storage")));
        const LoadedPlugin *storagePlugin = host.find("test_storage");
        QCOMPARE(configGet(storagePlugin->host, "listen").status, FERRY_E_NOT_FOUND);
        QCOMPARE(configGet(storagePlugin->host, "caps").value, std::string("3"));
    }

    void configOverrideReachesPlugin()
    {
        PluginHost host(mapLookup({{"test_storage.caps", "5"}}));
        QVERIFY(host.loadFile(testPlugin("good_storage")));
        const LoadedPlugin *plugin = host.find("test_storage");
        ferry_storage_options options{};
        options.struct_size = sizeof options;
        options.data_dir = ".";
        ferry_storage *storage = nullptr;
        QCOMPARE(plugin->storage.open(plugin->host, &options, &storage, nullptr, 0), FERRY_OK);
        QCOMPARE(plugin->storage.capabilities(storage), uint64_t(5));
        plugin->storage.close(storage);
    }

    void hostTableOutlivesPluginHost()
    {
        const ferry_host *table = nullptr;
        {
            PluginHost host(mapLookup({{"test-protocol.greeting", "bonjour"}}));
            QVERIFY(host.loadFile(testPlugin("good_protocol")));
            table = host.find("test-protocol")->host;
            QCOMPARE(configGet(table, "greeting").value, std::string("bonjour"));
        }
        // The plugin may keep the table for the life of the process: detached, it answers declared defaults.
        QCOMPARE(configGet(table, "greeting").value, std::string("hello"));
        const char line[] = "still logging";
        table->log(table->ctx, FERRY_LOG_WARN, line, sizeof line - 1);
        QVERIFY(hasLine(QStringLiteral("test-protocol|warning|still logging")));
    }

    void hostClocks()
    {
        PluginHost host(emptyLookup());
        QVERIFY(host.loadFile(testPlugin("good_storage")));
        const ferry_host *table = host.find("test_storage")->host;
        const qint64 before = QDateTime::currentMSecsSinceEpoch();
        const uint64_t now = table->now_ms(table->ctx);
        const qint64 after = QDateTime::currentMSecsSinceEpoch();
        QVERIFY(now + 1 >= uint64_t(before) && now <= uint64_t(after) + 1);
        const uint64_t first = table->monotonic_ms(table->ctx);
        QTest::qWait(20);
        const uint64_t second = table->monotonic_ms(table->ctx);
        QVERIFY(second >= first + 15);
    }

    void refusals_data()
    {
        QTest::addColumn<QString>("plugin");
        QTest::addColumn<QString>("reason");
        const QString kernelAbi = abi(FERRY_ABI_MAJOR, FERRY_ABI_MINOR);
        QTest::newRow("not a library")
            << "not_a_library" << "not a loadable shared library: not an ELF, PE or Mach-O file";
#ifdef FERRY_TEST_HAVE_UNRESOLVED_SYMBOL_PLUGIN
        QTest::newRow("unresolved symbol")
            << "unresolved_symbol" << "not a loadable shared library: the system loader refused it";
#endif
        QTest::newRow("missing file") << "does_not_exist"
                                      << "not a loadable shared library: the file does not exist";
        QTest::newRow("no entry symbol") << "no_entry" << "no `ferry_plugin_query` symbol";
        QTest::newRow("different major")
            << "abi_major"
            << QStringLiteral("different ABI major: built for ABI %1, this kernel has ABI %2")
                   .arg(abi(FERRY_ABI_MAJOR + 1, 0), kernelAbi);
        QTest::newRow("newer minor")
            << "abi_minor"
            << QStringLiteral("newer ABI minor: built for ABI %1, this kernel has ABI %2")
                   .arg(abi(FERRY_ABI_MAJOR, FERRY_ABI_MINOR + 1), kernelAbi);
        QTest::newRow("plugin refuses kernel")
            << "abi_refused_by_plugin"
            << QStringLiteral("the plugin refused this kernel's ABI %1: needs host services of a newer kernel")
                   .arg(kernelAbi);
        QTest::newRow("storage without read") << "missing_read" << "required vtable member missing: read";
        QTest::newRow("protocol without two members")
            << "missing_protocol_members" << "required vtable members missing: on_timer, on_close";
        QTest::newRow("vtable struct_size before sync") << "truncated_vtable" << "required vtable member missing: sync";
        QTest::newRow("query error")
            << "query_error" << "ferry_plugin_query failed with FERRY_E_CONFIG (-17): license file not found";
        QTest::newRow("no descriptor") << "null_descriptor" << "ferry_plugin_query returned FERRY_OK but no descriptor";
        QTest::newRow("invalid name")
            << "bad_name" << "invalid name \"Bad Name\": a plugin name must match [a-z0-9_-]+";
        QTest::newRow("unknown kind") << "unknown_kind" << "unknown plugin kind 7";
        QTest::newRow("config key without name") << "bad_config_key" << "config_keys[1] has no name";
    }

    void refusals()
    {
        QFETCH(QString, plugin);
        QFETCH(QString, reason);
        PluginHost host(emptyLookup());
        const auto file = testPlugin(plugin.toStdString().c_str());
        QVERIFY(!host.loadFile(file));
        QVERIFY(host.plugins().empty());
        QCOMPARE(host.refusals().size(), size_t(1));
        const PluginRefusal &refusal = host.refusals().front();
        QCOMPARE(refusal.file, std::filesystem::absolute(file));
        const QString recorded = QString::fromStdString(refusal.reason);
        QVERIFY2(recorded.contains(reason), qPrintable(QStringLiteral("reason was: ") + recorded));

        // Exactly one warn line, naming the file and the reason.
        const auto warnings = warnLines();
        QCOMPARE(warnings.size(), size_t(1));
        QVERIFY2(warnings[0].text.contains(text(std::filesystem::absolute(file))), qPrintable(warnings[0].text));
        QVERIFY2(warnings[0].text.contains(reason), qPrintable(warnings[0].text));
    }

    void duplicateNameFirstWins()
    {
        PluginHost host(emptyLookup());
        QVERIFY(host.loadFile(testPlugin("duplicate_a")));
        QVERIFY(!host.loadFile(testPlugin("duplicate_b")));
        QCOMPARE(host.plugins().size(), size_t(1));
        QCOMPARE(host.find("duplicate")->version, std::string("first"));
        QCOMPARE(host.refusals().size(), size_t(1));
        QCOMPARE(host.refusals()[0].file, std::filesystem::absolute(testPlugin("duplicate_b")));
        const QString expected = QStringLiteral("duplicate plugin name \"duplicate\": already loaded from %1")
                                     .arg(text(std::filesystem::absolute(testPlugin("duplicate_a"))));
        QCOMPARE(QString::fromStdString(host.refusals()[0].reason), expected);
        const auto warnings = warnLines();
        QCOMPARE(warnings.size(), size_t(1));
        QVERIFY(warnings[0].text.contains(expected));

        // Loading the very same file again is a duplicate too, not a crash.
        QVERIFY(!host.loadFile(testPlugin("duplicate_a")));
        QCOMPARE(host.plugins().size(), size_t(1));
    }

    void loadDirectoriesLoadsGoodAndRefusesBad()
    {
        const std::filesystem::path dir(FERRY_TEST_PLUGIN_DIR);
        const std::filesystem::path missing = dir / "no-such-subdirectory";
        size_t files = 0;
        for (const auto &entry : std::filesystem::directory_iterator(dir))
            files += entry.is_regular_file() ? 1 : 0;

        PluginHost host(emptyLookup());
        const int loaded = host.loadDirectories({missing, dir, missing});
        // The good ones and the first of the two duplicates, in file-name order.
        QCOMPARE(loaded, 3);
        QCOMPARE(host.plugins().size(), size_t(3));
        QCOMPARE(host.plugins()[0]->name, std::string("duplicate"));
        QCOMPARE(host.plugins()[0]->version, std::string("first"));
        QCOMPARE(host.plugins()[1]->name, std::string("test-protocol"));
        QCOMPARE(host.plugins()[2]->name, std::string("test_storage"));
        // Everything else in the directory is refused, each with one warn line; the missing directory is not.
        QCOMPARE(host.refusals().size(), files - 3);
        QCOMPARE(warnLines().size(), files - 3);
        for (const PluginRefusal &refusal : host.refusals())
            QCOMPARE(refusal.file.parent_path(), std::filesystem::absolute(dir));
        QVERIFY(hasLine(QStringLiteral("plugin directory %1 does not exist").arg(text(missing))));
    }

    void loadDirectoriesWithOnlyMissingDirs()
    {
        PluginHost host(emptyLookup());
        QCOMPARE(host.loadDirectories({std::filesystem::path(FERRY_TEST_PLUGIN_DIR) / "missing"}), 0);
        QCOMPARE(host.loadDirectories({}), 0);
        QVERIFY(host.plugins().empty());
        QVERIFY(host.refusals().empty());
        QVERIFY(warnLines().empty());
        QVERIFY(host.find("test_storage") == nullptr);
    }

    void defaultDirectories()
    {
        const auto dirs = PluginHost::defaultDirectories();
        QVERIFY(!dirs.empty());
        QVERIFY(dirs.size() <= 2);
        const std::filesystem::path exeDir(QCoreApplication::applicationDirPath().toStdU16String());
        QCOMPARE(dirs[0], (exeDir / ".." / "lib" / FERRY_PLUGIN_ABI_DIR).lexically_normal());
        QCOMPARE(dirs.back(), (exeDir / ".." / FERRY_INSTALL_LIBDIR / FERRY_PLUGIN_ABI_DIR).lexically_normal());
        if (dirs.size() == 2)
            QVERIFY(dirs[0] != dirs[1]);
        for (const auto &dir : dirs)
            QVERIFY(text(dir).endsWith(QDir::toNativeSeparators(QStringLiteral("ferry/plugins/v1"))));
    }
};

QTEST_GUILESS_MAIN(TestPluginHost)
#include "tst_plugin_host.moc"
