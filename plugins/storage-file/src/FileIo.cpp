#include "FileIo.h"

#include <QDir>
#include <QFileDevice>

#include <cerrno>
#include <cstring>
#include <system_error>

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace ferry::storage_file {

QString qpath(const std::filesystem::path &path)
{
    return QString::fromStdU16String(path.u16string());
}

std::string display(const std::filesystem::path &path)
{
    return qpath(path).toStdString();
}

[[noreturn]] void throw_file_error(const QFile &file, const char *what)
{
    const ferry_status status = file.error() == QFileDevice::ResourceError ? FERRY_E_NO_SPACE : FERRY_E_IO;
    throw sdk::Error(status, std::string(what) + " failed on " + file.fileName().toStdString() + ": " +
                                 file.errorString().toStdString());
}

void open_or_throw(QFile &file, QIODevice::OpenMode mode)
{
    if (!file.open(mode))
        throw_file_error(file, "open");
}

void write_all(QFile &file, const void *data, size_t n)
{
    const char *p = static_cast<const char *>(data);
    while (n > 0) {
        // A short write (the disk filled up part-way) is retried once more so the OS reports why.
        const qint64 written = file.write(p, static_cast<qint64>(n));
        if (written <= 0)
            throw_file_error(file, "write");
        p += written;
        n -= static_cast<size_t>(written);
    }
}

bool read_whole_file(const std::filesystem::path &path, std::string &out)
{
    QFile file(qpath(path));
    if (!file.exists())
        return false;
    open_or_throw(file, QIODevice::ReadOnly);
    const QByteArray bytes = file.readAll();
    if (file.error() != QFileDevice::NoError)
        throw_file_error(file, "read");
    out.assign(bytes.constData(), static_cast<size_t>(bytes.size()));
    return true;
}

void write_file_atomically(const std::filesystem::path &path, const void *data, size_t n)
{
    std::filesystem::path temp = path;
    temp += ".tmp";
    {
        QFile file(qpath(temp));
        open_or_throw(file, QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Unbuffered);
        write_all(file, data, n);
        sync_file(file);
    }
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
    if (ec)
        throw sdk::Error(FERRY_E_IO, "rename " + display(temp) + " -> " + display(path) + " failed: " + ec.message());
    sync_directory(path.parent_path());
}

// ---- the platform-specific part ----------------------------------------------------------------------------

#ifdef _WIN32

void sync_file(QFile &file)
{
    // QFile::handle() is not a Windows HANDLE for files opened by name; FlushFileBuffers flushes the whole file
    // through any handle opened for writing, so open a second one by path.
    const std::wstring name = QDir::toNativeSeparators(file.fileName()).toStdWString();
    HANDLE h = CreateFileW(name.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                           OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE)
        throw sdk::Error(FERRY_E_IO, "open for flush failed on " + file.fileName().toStdString() + ": " +
                                         std::system_category().message(static_cast<int>(GetLastError())));
    const BOOL ok = FlushFileBuffers(h);
    const DWORD code = ok ? 0 : GetLastError();
    CloseHandle(h);
    if (!ok)
        throw sdk::Error(code == ERROR_DISK_FULL ? FERRY_E_NO_SPACE : FERRY_E_IO,
                         "FlushFileBuffers failed on " + file.fileName().toStdString() + ": " +
                             std::system_category().message(static_cast<int>(code)));
}

void sync_directory(const std::filesystem::path &)
{
}

#else

void sync_file(QFile &file)
{
    const int fd = file.handle();
    if (fd < 0)
        throw sdk::Error(FERRY_E_INTERNAL, "sync of a file that is not open: " + file.fileName().toStdString());
#if defined(__APPLE__)
    int rc = ::fcntl(fd, F_FULLFSYNC);
    if (rc != 0)
        rc = ::fsync(fd);
#elif defined(__linux__)
    const int rc = ::fdatasync(fd);
#else
    const int rc = ::fsync(fd);
#endif
    if (rc != 0) {
        const int code = errno;
        throw sdk::Error(code == ENOSPC ? FERRY_E_NO_SPACE : FERRY_E_IO,
                         "fsync failed on " + file.fileName().toStdString() + ": " + std::strerror(code));
    }
}

void sync_directory(const std::filesystem::path &dir)
{
    const int fd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int code = errno;
        throw sdk::Error(FERRY_E_IO, "open of directory " + dir.string() + " failed: " + std::strerror(code));
    }
    const int rc = ::fsync(fd);
    const int code = errno;
    ::close(fd);
    if (rc != 0)
        throw sdk::Error(FERRY_E_IO, "fsync of directory " + dir.string() + " failed: " + std::strerror(code));
}

#endif

} // namespace ferry::storage_file
