// AdminHandlers: what the admin API's handler files share (internal to broker/kernel/admin). AdminRoutes.cpp holds
// the route table and the core resources; each further group of resources is one file that adds its routes through
// an add*Routes function called from the table: AdminMessages.cpp (browse, publish, resend, dead letters),
// AdminConnections.cpp (connections), AdminGroups.cpp (consumer groups), AdminDefinitions.cpp (definitions export and import, deleting users and
// vhosts).
//
// Threading: as AdminRoutes: a handler runs on the session's thread and answers through call.respond exactly once,
// from any thread.
#pragma once

#include "admin/AdminRoutes.h"
#include "queue/Queue.h"
#include "route/Router.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ferry::admin {

uint64_t wallMs();
QString q(const std::string &s);
HttpResponse json(int status, const QJsonValue &value);
HttpResponse noContent(int status = 204);
// A kernel status as the HTTP answer RabbitMQ's API gives for the same failure.
HttpResponse statusError(ferry_status st, const std::string &what);
// The body as a JSON object; false (and the 400 answered) when it is not one. An empty body is an empty object.
bool bodyObject(AdminCall &call, QJsonObject *out);
// Logs a change with the user and the client's address (every change is logged).
void logChange(const AdminCall &call, const std::string &what);
bool isAdministrator(const AdminRoutes &r, const AdminCall &call);
// Monitoring and administrator users see every vhost; management users the ones they have permissions on.
bool visible(const AdminRoutes &r, const AdminCall &call, const std::string &vhost);
// A change of a resource in vhost: administrators always, management users with the configure permission. false
// (and 404 or 403 answered) otherwise.
bool mayConfigure(const AdminRoutes &r, AdminCall &call, const std::string &vhost, const std::string &name);
// The vhost exists and the user may see it; false (and 404 answered) otherwise.
bool knownVhost(const AdminRoutes &r, AdminCall &call, const std::string &vhost);
// The queues clients declare (not topic queues, not kernel stores).
bool isClientQueue(const QueuePtr &queue);
// The client queue named by call.params[0] (vhost) and [1] (name); null (and 404 answered) when there is none the
// user may see.
QueuePtr findClientQueue(const AdminRoutes &r, AdminCall &call);

// ---- conversions (RabbitMQ's field names)
QJsonObject queueArgumentsJson(const QueueArgs &a);
// RabbitMQ's queue arguments -> QueueArgs; false with *error for an unknown or ill-typed one.
bool queueArgumentsFromJson(const QJsonObject &o, QueueArgs *a, std::string *error);
QJsonObject exchangeJson(const ExchangeConfig &e);
QJsonObject bindingJson(const BindingConfig &b);
// RabbitMQ's properties_key: the routing key ("~" when empty); with arguments, "<routing key>~<8 hex digits>".
std::string propertiesKey(const BindingConfig &b);
// A JSON string, number or boolean as the text a property block holds (AMQP headers are compared as text); false
// for null, arrays and objects.
bool scalarText(const QJsonValue &v, std::string *out);
// Binding arguments (a property block of texts, what headers exchanges match) and their JSON object.
QJsonObject bindingArgumentsJson(const std::string &block);
bool bindingArgumentsFromJson(const QJsonValue &value, std::string *block, std::string *error);
QJsonArray tagsJson(const std::string &tags);

// Bytes the files under dir hold (the data directory's size on disk).
uint64_t directoryBytes(const std::filesystem::path &dir);

// One JSON result per item of a batch (a resend, an offset reset, a search page) whose answers arrive on any thread:
// done(results, in item order) runs once, on the thread of the last set(); at once for an empty batch.
class ResultSlots {
public:
    static std::shared_ptr<ResultSlots> create(size_t count, std::function<void(std::vector<QJsonObject>)> done)
    {
        auto slots = std::shared_ptr<ResultSlots>(new ResultSlots(count, std::move(done)));
        if (count == 0)
            slots->done_({});
        return slots;
    }
    void set(size_t index, QJsonObject result)
    {
        {
            std::lock_guard lock(mutex_);
            results_[index] = std::move(result);
        }
        if (left_.fetch_sub(1) == 1)
            done_(std::move(results_));
    }

private:
    ResultSlots(size_t count, std::function<void(std::vector<QJsonObject>)> done)
        : results_(count), left_(count), done_(std::move(done))
    {
    }
    std::mutex mutex_;
    std::vector<QJsonObject> results_;
    std::atomic<size_t> left_;
    std::function<void(std::vector<QJsonObject>)> done_;
};

using RouteHandler = void (*)(const AdminRoutes &, AdminCall &);
using AddRoute = std::function<void(const char *method, const char *pattern, Access access, RouteHandler handler)>;

void addMessageRoutes(const AddRoute &add);
void addConnectionRoutes(const AddRoute &add);
void addDefinitionRoutes(const AddRoute &add);
void addGroupRoutes(const AddRoute &add);

// Every consumer group's lag per topic queue and its member count, for /metrics. done runs on the storage thread.
struct GroupLagSample {
    std::string group, topic;
    uint32_t queueId = 0;
    uint64_t lag = 0;
};
struct GroupMetrics {
    std::vector<GroupLagSample> lag;
    std::vector<std::pair<std::string, uint64_t>> members; // (group, members)
};
void collectGroupMetrics(const AdminContext &context, std::function<void(GroupMetrics)> done);

} // namespace ferry::admin
