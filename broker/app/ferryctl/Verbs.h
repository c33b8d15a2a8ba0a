#pragma once
// The verb table: every ferryctl verb with its synopsis, the HTTP request it makes and how it renders the answer.
// A list verb is one entry (a path and the columns to show); the others are a small function each.

#include "AdminClient.h"
#include "Options.h"

#include <QList>
#include <QString>
#include <functional>
#include <vector>

// The operation failed on this side or partly (a file that cannot be read or written, a resend with failed
// messages). Exit code 1.
struct Failure {
    QString message;
};

// What a verb runs with.
struct Invocation {
    AdminClient& client;
    const Settings& settings;
    QStringList args;     // positional, as many as the verb allows
    OptionValues options; // the verb's own options

    bool has(const QString& name) const { return hasOption(options, name); }
    QString value(const QString& name, const QString& fallback = {}) const { return lastValue(options, name, fallback); }
    QStringList values(const QString& name) const;
    QString arg(int i, const QString& fallback = {}) const { return i < args.size() ? args.at(i) : fallback; }
};

struct Verb {
    QString name;     // one word, or a group and a word ("dlq browse")
    QString synopsis; // the positional arguments and options, as in the usage line
    QString summary;
    QString http;     // the request(s), for `ferryctl help VERB`
    int minArgs = 0;
    int maxArgs = 0;  // -1: no limit
    QList<OptionSpec> options;
    std::function<int(Invocation&)> run; // the exit code; may throw UsageError, ApiError, Unreachable, Failure
};

const std::vector<Verb>& verbs();

// The verb named by words (one word, or a group word and a verb word). When there is none, *group tells whether
// words is just a group's first word ("dlq") so that the next word completes it.
const Verb* findVerb(const QStringList& words, bool* group);
QString groupMembers(const QString& group); // "list, browse, resend, export"

QString usageLine(const Verb* verb);  // "usage: ferryctl [global flags] VERB ..." or the verb's
QString overallHelp();
QString verbHelp(const Verb& verb);
