// ferryctl: the command-line client of the admin API (docs/admin-api.md). See README.md for the verbs.
//
// Exit codes: 0 success; 1 the API answered non-2xx (or the operation failed); 2 bad usage; 3 no answer from the
// broker (bad URL, connection refused, timeout).

#include "AdminClient.h"
#include "Options.h"
#include "Verbs.h"

#include <QCoreApplication>
#include <QtGlobal>
#include <cstdio>
#ifdef Q_OS_WIN
#include <fcntl.h>
#include <io.h>
#endif

namespace {

void printTo(FILE* stream, const QString& text)
{
    const QByteArray bytes = text.toUtf8();
    std::fwrite(bytes.constData(), 1, static_cast<size_t>(bytes.size()), stream);
    std::fflush(stream);
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("ferryctl"));
#ifdef Q_OS_WIN
    // Bodies (CSV with \r\n, JSON, metrics) go to stdout byte for byte, without "\n" -> "\r\n".
    _setmode(_fileno(stdout), _O_BINARY);
#endif

    try {
        const CommandLine cl = parseCommandLine(QCoreApplication::arguments().mid(1));
        if (cl.help) {
            printTo(stdout, cl.verb ? verbHelp(*cl.verb) : overallHelp());
            return 0;
        }
        const Settings settings = resolveSettings(cl.globals, QProcessEnvironment::systemEnvironment());
        AdminClient client(settings.url, settings.user, settings.password);
        Invocation invocation{client, settings, cl.args, cl.options};
        try {
            return cl.verb->run(invocation);
        } catch (UsageError& e) { // a verb's own check: show that verb's usage
            if (!e.verb)
                e.verb = cl.verb;
            throw;
        }
    } catch (const UsageError& e) {
        printTo(stderr, QStringLiteral("ferryctl: %1\n%2\n").arg(e.message, usageLine(e.verb)));
        return 2;
    } catch (const ApiError& e) {
        printTo(stderr, QStringLiteral("ferryctl: %1 %2: %3\n").arg(e.status).arg(e.error, e.reason));
        return 1;
    } catch (const Failure& e) {
        printTo(stderr, QStringLiteral("ferryctl: %1\n").arg(e.message));
        return 1;
    } catch (const Unreachable& e) {
        printTo(stderr, QStringLiteral("ferryctl: cannot reach %1: %2\n").arg(e.url, e.reason));
        return 3;
    }
}
