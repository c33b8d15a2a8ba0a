// SuiteMain: the common main() of the storage test executables. It takes the suite's own options off the command
// line (--plugin, --seed, --ops, --rounds, --writer, --config; see StorageHarness.h), hands the rest to QTest, and
// refuses to run without a plugin (a suite with nothing to test must not pass).
#pragma once

#include "StorageHarness.h"

#include <QCoreApplication>
#include <QStringList>
#include <QTest>

#include <cstdio>
#include <string>
#include <vector>

namespace ferry::storagetest {

template <typename TestObject>
int runSuite(int argc, char **argv, const char *usage)
{
    QCoreApplication app(argc, argv);
    std::vector<std::string> arguments;
    for (const QString &arg : QCoreApplication::arguments())
        arguments.push_back(arg.toStdString());
    SuiteOptions options = parseSuiteOptions(arguments);
    if (!options.error.empty() || options.plugins.empty()) {
        std::fprintf(stderr, "%s\n%s\n", options.error.empty() ? "no --plugin given" : options.error.c_str(), usage);
        return 2;
    }
    QStringList qtestArguments;
    for (const std::string &arg : options.passThrough)
        qtestArguments << QString::fromStdString(arg);
    TestObject test(std::move(options));
    return QTest::qExec(&test, qtestArguments);
}

// Loads every plugin named by --plugin; returns false and sets *error when one is refused.
inline bool loadAll(const SuiteOptions &options, std::vector<const LoadedPlugin *> &out, std::string *error)
{
    out.clear();
    for (const auto &file : options.plugins) {
        const LoadedPlugin *plugin = loadStoragePlugin(file, options.config, error);
        if (plugin == nullptr)
            return false;
        out.push_back(plugin);
    }
    return true;
}

} // namespace ferry::storagetest
