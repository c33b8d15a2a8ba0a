#include "platform/ProcessRestart.h"

#ifdef _WIN32
#include <QProcess>
#include <QStringList>
#else
#include <cerrno>
#include <cstring>
#include <unistd.h>
#endif

namespace ferry::platform {

bool restartProcess(const std::string &program, const std::vector<std::string> &arguments, std::string *error)
{
#ifdef _WIN32
    QStringList args;
    for (const std::string &a : arguments)
        args << QString::fromStdString(a);
    QProcess process;
    process.setProgram(QString::fromStdString(program));
    process.setArguments(args);
    process.setProcessChannelMode(QProcess::ForwardedChannels);
    process.setInputChannelMode(QProcess::ForwardedInputChannel);
    if (!process.startDetached()) {
        *error = "cannot start " + program + ": " + process.errorString().toStdString();
        return false;
    }
    return true;
#else
    std::vector<std::string> copies;
    copies.reserve(arguments.size() + 1);
    copies.push_back(program);
    copies.insert(copies.end(), arguments.begin(), arguments.end());
    std::vector<char *> argv;
    for (std::string &a : copies)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    *error = "cannot run " + program + " again: " + std::strerror(errno);
    return false;
#endif
}

} // namespace ferry::platform
