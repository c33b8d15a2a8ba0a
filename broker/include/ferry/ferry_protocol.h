/*
 * ferry_protocol.h -- the protocol plugin contract (kind FERRY_PLUGIN_KIND_PROTOCOL).
 *
 * Protocol plugins are sans-I/O. The kernel owns listeners, sockets, timeouts, back-pressure and threads; it hands
 * a plugin the bytes a peer sent and the events that concern the connection, and the plugin answers by calling
 * host services (write bytes, close, declare, publish, subscribe, pull, ack, ...). No socket crosses the ABI, so a
 * plugin can be fuzzed and unit-tested with no network.
 *
 * Threading: hooks for one connection (on_open .. on_close) are never called concurrently and never re-entrantly
 * from inside a host service call; different connections may be served on different threads at the same time, so
 * state shared between sessions (the ferry_protocol instance) must be thread-safe. Host services taking a
 * ferry_conn may only be called from inside a hook of that same connection.
 *
 * Asynchrony: host services that touch queues or storage return at once; their outcome arrives later through
 * on_result carrying the correlation id the plugin chose (0 means "no result wanted"). Messages arrive through
 * on_delivery. A synchronous return other than FERRY_OK means the request was rejected and no result will follow.
 */
#ifndef FERRY_PROTOCOL_H
#define FERRY_PROTOCOL_H

#include "ferry_plugin.h"

typedef struct ferry_conn ferry_conn;         /* kernel-owned connection handle, valid from on_open until on_close */
typedef struct ferry_session ferry_session;   /* plugin-owned per-connection state, freed by on_close */
typedef struct ferry_protocol ferry_protocol; /* plugin-owned instance, created by init, lives for the process */

/* Queue declaration flags. */
#define FERRY_QUEUE_DURABLE (1u << 0)   /* survives a restart; its messages are stored */
#define FERRY_QUEUE_PASSIVE (1u << 1)   /* only check that it exists (FERRY_E_NOT_FOUND otherwise) */
#define FERRY_QUEUE_IF_UNUSED (1u << 2) /* queue_delete: refuse (FERRY_E_BUSY) when it has consumers */
#define FERRY_QUEUE_IF_EMPTY (1u << 3)  /* queue_delete: refuse (FERRY_E_BUSY) when it holds messages */

/* Message flags. */
#define FERRY_MESSAGE_PERSISTENT (1u << 0) /* stored (in a durable queue) before the publish result is sent */
#define FERRY_MESSAGE_HAS_TTL (1u << 1)    /* ABI 1.5: ttl_ms is set (0 is a valid TTL: expire unless delivered now) */

/* Publish flags. */
#define FERRY_PUBLISH_NO_RESULT (1u << 0) /* fire and forget: no on_result, even on failure */

/* Subscription flags. */
#define FERRY_SUBSCRIBE_AUTO_ACK (1u << 0)  /* a delivery counts as acked when it is handed to on_delivery */
#define FERRY_SUBSCRIBE_EXCLUSIVE (1u << 1) /* refuse (FERRY_E_ACCESS_DENIED) when the queue has other consumers */

/* ack/nack flags. */
#define FERRY_ACK_MULTIPLE (1u << 0) /* every unacked delivery of the subscription up to and including offset */
#define FERRY_ACK_REQUEUE (1u << 1)  /* nack only: put the message(s) back, marked redelivered */

/* Delivery flags. */
#define FERRY_DELIVERY_REDELIVERED (1u << 0)
#define FERRY_DELIVERY_GET (1u << 1) /* ABI 1.5: the answer to a get(), not a subscription delivery */

/* pull(): read from the group's committed offset (0 when the group has none). */
#define FERRY_OFFSET_COMMITTED UINT64_MAX

/* on_close reasons. */
#define FERRY_CLOSE_PEER 1        /* the peer closed or reset the connection */
#define FERRY_CLOSE_REQUESTED 2   /* the plugin called host->close */
#define FERRY_CLOSE_IDLE 3        /* no bytes received within network.idle_timeout_ms */
#define FERRY_CLOSE_PROTOCOL 4    /* on_read returned an error, or a frame exceeded network.max_frame_bytes */
#define FERRY_CLOSE_SHUTDOWN 5    /* the broker is stopping */
#define FERRY_CLOSE_ADMIN 6       /* ABI 1.8: an operator closed it (admin API) and the plugin has no on_close_request */

/*
 * A message as it crosses the ABI. In publish: everything borrowed for the call (the kernel copies what it keeps).
 * In on_delivery: everything borrowed for the hook call, kernel-owned.
 * properties: a property block, a sequence of entries, each
 *   key_len (uint16, big-endian) | key (UTF-8) | value_len (uint32, big-endian) | value (bytes).
 */
typedef struct ferry_message {
    uint32_t struct_size;
    uint32_t flags; /* FERRY_MESSAGE_* */
    const uint8_t *body;
    size_t body_len;
    const char *routing_key; /* AMQP routing key; may be NULL when routing_key_len is 0 */
    size_t routing_key_len;
    const char *tag; /* RocketMQ tag */
    size_t tag_len;
    const char *keys; /* RocketMQ keys, space separated */
    size_t keys_len;
    const uint8_t *properties; /* property block, see above */
    size_t properties_len;
    uint64_t born_time_ms;  /* set by the publisher side; 0: the kernel uses the store time */
    uint64_t store_time_ms; /* set by the kernel; ignored in publish */
    uint8_t id[16];         /* set by the kernel; ignored in publish */
    const char *origin_protocol; /* NUL-terminated plugin name that accepted the message; ignored in publish */
    /* ABI 1.2. publish: 0 (or a time not in the future) delivers now. A later wall-clock time makes the kernel keep
       the message durably in its delay store and append it to the queue at that time (within a second of it, also
       across restarts; up to 100 years ahead); the publish result's offset is then the message's place in the delay
       store, and the queue offset is assigned on delivery. on_delivery: always 0. */
    uint64_t deliver_at_ms;
    /* ABI 1.5. priority: 0..255, used by queues declared with max_priority (higher first; above the queue's maximum
       counts as its maximum). ttl_ms (with FERRY_MESSAGE_HAS_TTL): the message expires ttl_ms after it enters a
       queue (the queue's own message TTL applies too; the smaller wins). exchange: publish: ignored (route() sets
       it); on_delivery: the exchange the message was routed through ("" for the default exchange or a direct
       publish; vhost-qualified like every name). */
    uint32_t priority;
    uint64_t ttl_ms;
    const char *exchange;
    size_t exchange_len;
} ferry_message;

typedef struct ferry_subscribe_options {
    uint32_t struct_size;
    const char *queue;
    size_t queue_len;
    uint32_t prefetch; /* maximum unacked deliveries in flight; 0: unlimited */
    uint32_t flags;    /* FERRY_SUBSCRIBE_* */
    /* ABI 1.5: subscriptions of one connection with the same non-zero credit_group also share credit_limit unacked
       deliveries between them (AMQP basic.qos global); the latest subscribe sets the group's limit (0: unlimited). */
    uint64_t credit_group;
    uint32_t credit_limit;
} ferry_subscribe_options;

typedef struct ferry_delivery {
    uint32_t struct_size;
    uint32_t flags;           /* FERRY_DELIVERY_* */
    uint64_t subscription_id; /* 0 for messages returned by pull() */
    uint64_t correlation_id;  /* the pull's correlation id; 0 for subscriptions */
    const char *queue;
    size_t queue_len;
    uint64_t offset;          /* the message's offset in its queue; ack and nack name a delivery by it */
    uint32_t delivery_count;  /* 1 on first delivery */
    const ferry_message *message;
    /* ABI 1.5: for a get() answer (FERRY_DELIVERY_GET), the messages still ready in the queue after this one. */
    uint64_t ready_count;
} ferry_delivery;

/* The outcome of an asynchronous host service. Borrowed for the on_result call. */
typedef struct ferry_result {
    uint32_t struct_size;
    uint64_t correlation_id;
    ferry_status status;
    const char *text; /* error text when status != FERRY_OK; may be NULL */
    size_t text_len;
    uint64_t offset;         /* publish: the queue offset; pull: the next offset to read; commit_offset: stored */
    uint64_t message_count;  /* queue_declare: messages ready; queue_delete: messages dropped; pull: delivered */
    uint64_t consumer_count; /* queue_declare */
    uint8_t message_id[16];  /* publish: the id the kernel gave the message */
} ferry_result;

/* A listener the plugin wants: the kernel reads `<plugin>.<config_key>` ("host:port"; empty: off). Static. */
typedef struct ferry_listener_spec {
    uint32_t struct_size;
    const char *config_key;      /* e.g. "listen", "namesrv_listen" */
    const char *default_address; /* e.g. "0.0.0.0:5672" */
    const char *description;
} ferry_listener_spec;

/* ---- ABI 1.1: topics, queue snapshots ---------------------------------------------------------------------- */

/*
 * A topic (RocketMQ style) is a named set of queues. Queue i of topic T is the ordinary kernel queue named
 * "T" FERRY_TOPIC_QUEUE_SEPARATOR "i" (e.g. "orders:3"), durable, used with publish / pull / commit_offset like any
 * queue. Topic names must not contain the separator. Topic metadata lives in storage beside the data.
 */
#define FERRY_TOPIC_QUEUE_SEPARATOR ":"

/* Topic permission bits (the same values as RocketMQ's). */
#define FERRY_TOPIC_PERM_INHERIT (1u << 0)
#define FERRY_TOPIC_PERM_WRITE (1u << 1)
#define FERRY_TOPIC_PERM_READ (1u << 2)

/* topic_declare flags. */
#define FERRY_TOPIC_CREATE_ONLY (1u << 0) /* FERRY_E_ALREADY_EXISTS when the topic exists (no update) */

/* Topic flags (ferry_topic_info.flags). */
#define FERRY_TOPIC_ORDERED (1u << 0) /* the topic was created for ordered messages (informational) */
#define FERRY_TOPIC_SYSTEM (1u << 1)  /* created by a plugin for its own use (retry, dead-letter, scheduling, ...) */

typedef struct ferry_topic_info {
    uint32_t struct_size;
    const char *name; /* borrowed for the call, in both directions */
    size_t name_len;
    uint32_t read_queues;  /* queues consumers read: indexes 0 .. read_queues-1 */
    uint32_t write_queues; /* queues producers write: indexes 0 .. write_queues-1 */
    uint32_t perm;         /* FERRY_TOPIC_PERM_* */
    uint32_t flags;        /* FERRY_TOPIC_* */
} ferry_topic_info;

/* ---- ABI 1.3: prepared (transactional) messages ------------------------------------------------------------- */

/* prepared_end flags. */
#define FERRY_PREPARED_COMMIT (1u << 0)   /* deliver the message to its queue (or to queue_override) */
#define FERRY_PREPARED_ROLLBACK (1u << 1) /* discard it */

/* One unresolved prepared message: everything borrowed for the call. A non-zero return stops the listing. */
typedef int32_t (*ferry_prepared_sink)(void *sink_ctx, uint64_t handle, const char *queue, size_t queue_len,
                                       const char *group, size_t group_len, uint64_t store_time_ms);

/* Called once per topic; topic borrowed for the call. A non-zero return stops the listing. */
typedef int32_t (*ferry_topic_sink)(void *sink_ctx, const ferry_topic_info *topic);

/* A snapshot of one queue's state, filled by queue_info. */
typedef struct ferry_queue_info {
    uint32_t struct_size; /* set by the caller */
    uint32_t flags;       /* FERRY_QUEUE_DURABLE, ... as declared */
    uint64_t id;          /* the kernel's queue id: unique for the life of the data directory, never reused */
    uint64_t low;         /* lowest offset still stored */
    uint64_t next;        /* offset the next message gets */
    uint64_t ready;       /* lease consumption: messages ready */
    uint64_t unacked;     /* lease consumption: delivered, not yet acked */
    uint64_t consumers;   /* lease subscriptions */
} ferry_queue_info;

/* ---- ABI 1.5: vhosts, exchanges, bindings, queue arguments ----------------------------------------------- */

/*
 * Virtual hosts partition queue and exchange names. A queue or exchange of the default vhost FERRY_DEFAULT_VHOST
 * ("/") is named as it is; one of vhost V is named V FERRY_VHOST_SEPARATOR name (the separator is the ASCII unit
 * separator, so no printable name can collide with it). Every name a plugin passes or gets is in this form.
 * RocketMQ topics live in the default vhost, where topic T also appears as the exchange FERRY_TOPIC_EXCHANGE_PREFIX
 * T ("rocketmq.T"): routing to it appends to one of T's write queues (in turn) and to what is bound to it; binding
 * to it as a source gets copies of every message sent to T (matched against the binding key like a topic
 * exchange, with the message's tag as its routing key when it has none).
 */
#define FERRY_DEFAULT_VHOST "/"
#define FERRY_VHOST_SEPARATOR "\x1f"
#define FERRY_TOPIC_EXCHANGE_PREFIX "rocketmq."

/* More queue declaration flags (queue_declare_ex). */
#define FERRY_QUEUE_EXCLUSIVE (1u << 4)   /* owned by the declaring connection, deleted when it closes */
#define FERRY_QUEUE_AUTO_DELETE (1u << 5) /* deleted when its last consumer unsubscribes */

/* What a full queue does (ferry_queue_options.overflow). */
#define FERRY_OVERFLOW_DROP_HEAD 0          /* the oldest ready message is dropped (dead-lettered, reason maxlen) */
#define FERRY_OVERFLOW_REJECT_PUBLISH 1     /* the new message is refused (FERRY_E_NO_SPACE) */
#define FERRY_OVERFLOW_REJECT_PUBLISH_DLX 2 /* refused, and dead-lettered (reason maxlen) */

/* Queue arguments. A negative limit means "none". Strings borrowed for the call. */
typedef struct ferry_queue_options {
    uint32_t struct_size;
    uint32_t overflow;         /* FERRY_OVERFLOW_* */
    int64_t message_ttl_ms;    /* messages expire this long after entering the queue (dead-letter reason expired) */
    int64_t expires_ms;        /* the queue is deleted after this long without consumers, get or declare (> 0) */
    int64_t max_length;        /* ready messages */
    int64_t max_length_bytes;  /* ready body bytes */
    uint32_t max_priority;     /* 0: no priorities; 1..255 */
    uint32_t single_active_consumer; /* non-zero: only the oldest consumer gets deliveries, the next one takes over */
    const char *dead_letter_exchange; /* NULL: none; "" is the default exchange. Same vhost as the queue. */
    size_t dead_letter_exchange_len;
    const char *dead_letter_routing_key; /* NULL: keep the message's routing key */
    size_t dead_letter_routing_key_len;
} ferry_queue_options;

/* Exchange flags. */
#define FERRY_EXCHANGE_DURABLE (1u << 0)
#define FERRY_EXCHANGE_AUTO_DELETE (1u << 1) /* deleted when its last binding (as a source) goes */
#define FERRY_EXCHANGE_INTERNAL (1u << 2)    /* route() refuses it; only exchange-to-exchange bindings feed it */
#define FERRY_EXCHANGE_PASSIVE (1u << 3)     /* only check that it exists */
#define FERRY_EXCHANGE_IF_UNUSED (1u << 4)   /* exchange_delete: refuse while it is a binding source */

/*
 * Exchange types: "direct", "fanout", "topic" (words split on '.', '*' one word, '#' zero or more), "headers"
 * (binding arguments x-match = all | any | all-with-x | any-with-x and key/value pairs compared with the message's
 * properties), and "x-delayed-message" (delays by the message's `x-delay` property in milliseconds, then routes as
 * delayed_type).
 */
typedef struct ferry_exchange_options {
    uint32_t struct_size;
    uint32_t flags; /* FERRY_EXCHANGE_* */
    const char *type;
    size_t type_len;
    const char *delayed_type; /* x-delayed-message only */
    size_t delayed_type_len;
} ferry_exchange_options;

/* Binding destinations. */
#define FERRY_BIND_QUEUE 0
#define FERRY_BIND_EXCHANGE 1

typedef struct ferry_binding {
    uint32_t struct_size;
    uint32_t destination_kind; /* FERRY_BIND_* */
    const char *source; /* an exchange */
    size_t source_len;
    const char *destination;
    size_t destination_len;
    const char *routing_key;
    size_t routing_key_len;
    const uint8_t *arguments; /* a property block (headers exchanges match on it); part of the binding's identity */
    size_t arguments_len;
} ferry_binding;

/* permission_check kinds. */
#define FERRY_PERMISSION_CONFIGURE 1
#define FERRY_PERMISSION_WRITE 2
#define FERRY_PERMISSION_READ 3

/* on_subscription_end reasons. */
#define FERRY_SUBSCRIPTION_END_QUEUE_DELETED 1

/* ABI 1.6: resource alarms. The kernel raises one when a resource runs low and clears it when it recovers; each
   protocol reacts as its clients expect (AMQP: connection.blocked and publishers no longer read from). */
#define FERRY_ALARM_DISK 0x1u /* free space where the data dir lives is below storage.disk_free_limit */

/* ABI 1.7: replication roles (the config key replication.role, RocketMQ's brokerRole names). */
#define FERRY_ROLE_ASYNC_MASTER 1 /* confirms a write once stored here; slaves receive it after */
#define FERRY_ROLE_SYNC_MASTER 2  /* confirms a write once stored here and on at least one in-sync slave */
#define FERRY_ROLE_SLAVE 3        /* read-only replica of its group's master */

/* ABI 1.8: who is on a connection, as the admin API lists it (host->set_conn_identity). Strings are borrowed for
   the call; the kernel copies them. */
typedef struct ferry_conn_identity {
    uint32_t struct_size; /* set by the caller */
    const char *user;     /* the authenticated user; NULL / "" before login or when the protocol has none */
    size_t user_len;
    const char *vhost; /* the vhost the connection works in; NULL / "": the default vhost */
    size_t vhost_len;
    const char *client; /* the client's own description, e.g. "amqplib 0.10.3" or a RocketMQ clientID */
    size_t client_len;
    uint32_t channels; /* open channels (AMQP); 0 when the protocol has none */
} ferry_conn_identity;

/* ABI 1.8: one member of a consumer group, as a protocol plugin's clients registered it (RocketMQ's heartbeats), for
   the admin API (vtable list_group_members). Strings are borrowed for the sink call. */
typedef struct ferry_group_member_info {
    uint32_t struct_size;
    const char *group;
    size_t group_len;
    const char *client_id;
    size_t client_id_len;
    uint64_t conn_id;   /* the member's connection (host->conn_id); 0 when it has none */
    const char *model;  /* "CLUSTERING" or "BROADCASTING" */
    size_t model_len;
    const char *topics; /* the topics it subscribes, space-separated */
    size_t topics_len;
} ferry_group_member_info;
typedef void (*ferry_group_member_sink)(void *sink_ctx, const ferry_group_member_info *member);

/* ABI 1.8: one channel of a connection (AMQP), for the admin API (vtable list_channels). */
typedef struct ferry_channel_info {
    uint32_t struct_size;
    uint32_t number;          /* the channel number */
    uint32_t consumers;       /* consumers on the channel */
    uint32_t unacked;         /* deliveries not yet acknowledged */
    uint32_t prefetch;        /* per-consumer prefetch (basic.qos); 0: unlimited */
    uint32_t global_prefetch; /* the channel's shared prefetch (basic.qos global); 0: unlimited */
    int32_t confirm;          /* non-zero: publisher confirms are on */
    int32_t transactional;    /* non-zero: tx.select was seen */
    uint64_t unconfirmed;     /* publishes still waiting for their confirm */
} ferry_channel_info;
typedef void (*ferry_channel_sink)(void *sink_ctx, const ferry_channel_info *channel);

/* ABI 1.7: this broker's place in its replication group. Filled by host->replication_info. */
typedef struct ferry_replication_info {
    uint32_t struct_size;  /* set by the caller */
    int32_t role;          /* FERRY_ROLE_* */
    uint64_t broker_id;    /* broker.id: 0 for the master, > 0 for a slave */
    char broker_name[256]; /* broker.name (the group), NUL-terminated */
    /* The replication listener's bound "host:port" (RocketMQ's haServerAddr), "" when it is off. */
    char listen_address[256];
    /* A slave: the master's replication address it follows, "" while it knows none. */
    char master_address[256];
} ferry_replication_info;

/*
 * Services the kernel offers protocol plugins. Kernel-owned, valid for the life of the process.
 */
typedef struct ferry_protocol_host {
    uint32_t struct_size;
    const ferry_host *base; /* logging, config, clocks */

    /* ---- the connection ---- */
    /* Copies data into the connection's send buffer. FERRY_E_CLOSED after close. */
    ferry_status (*write)(ferry_conn *conn, const uint8_t *data, size_t len);
    /* Closes after the send buffer is flushed; on_close(FERRY_CLOSE_REQUESTED) follows. reason: borrowed, logged. */
    void (*close)(ferry_conn *conn, const char *reason);
    /* One-shot timer: on_timer(timer_id) after delay_ms. Setting an existing id re-arms it. */
    ferry_status (*set_timer)(ferry_conn *conn, uint64_t timer_id, uint32_t delay_ms);
    ferry_status (*cancel_timer)(ferry_conn *conn, uint64_t timer_id);
    /* The peer's address as "host:port", NUL-terminated, into buf (caller-owned). */
    ferry_status (*peer_address)(ferry_conn *conn, char *buf, size_t cap);

    /* ---- queues ---- */
    /* Result: message_count, consumer_count. FERRY_E_NOT_FOUND for a passive declare of a missing queue. */
    ferry_status (*queue_declare)(ferry_conn *conn, uint64_t correlation_id, const char *name, size_t name_len,
                                  uint32_t flags);
    /* Result: message_count dropped. Consumers of the queue are cancelled. */
    ferry_status (*queue_delete)(ferry_conn *conn, uint64_t correlation_id, const char *name, size_t name_len,
                                 uint32_t flags);
    /* Result (unless FERRY_PUBLISH_NO_RESULT): offset and message_id, after the message is stored when it is
       persistent and the queue durable. */
    ferry_status (*publish)(ferry_conn *conn, uint64_t correlation_id, const char *queue, size_t queue_len,
                            const ferry_message *message, uint32_t flags);

    /* ---- lease consumption (competing consumers, AMQP style) ---- */
    /* Synchronous: *subscription_id_out is set on FERRY_OK; deliveries then arrive through on_delivery. */
    ferry_status (*subscribe)(ferry_conn *conn, const ferry_subscribe_options *options,
                              uint64_t *subscription_id_out);
    /* Unacked deliveries go back to the queue, marked redelivered. */
    ferry_status (*unsubscribe)(ferry_conn *conn, uint64_t subscription_id);
    ferry_status (*ack)(ferry_conn *conn, uint64_t subscription_id, uint64_t offset, uint32_t flags);
    ferry_status (*nack)(ferry_conn *conn, uint64_t subscription_id, uint64_t offset, uint32_t flags);

    /* ---- cursor consumption (consumer group offsets, RocketMQ style) ---- */
    /*
     * Reads up to max_messages from from_offset (or FERRY_OFFSET_COMMITTED): each through on_delivery with this
     * correlation id, then on_result with offset = next offset to read. When none is available it waits up to
     * wait_ms for new messages (long poll) before answering. Does not move the group's offset.
     */
    ferry_status (*pull)(ferry_conn *conn, uint64_t correlation_id, const char *queue, size_t queue_len,
                         const char *group, size_t group_len, uint64_t from_offset, uint32_t max_messages,
                         uint32_t wait_ms);
    ferry_status (*commit_offset)(ferry_conn *conn, uint64_t correlation_id, const char *queue, size_t queue_len,
                                  const char *group, size_t group_len, uint64_t offset);

    /* ==== ABI 1.1 ==== */
    /* Functions taking `void *ctx` take base->ctx; they may be called from any thread, also outside hooks. */

    /* ---- connections beyond the current one ---- */
    /* This connection's kernel id: unique for the life of the process, never 0. */
    uint64_t (*conn_id)(ferry_conn *conn);
    /* Asks for on_wake(session, token) on connection conn_id's thread, after whatever hook runs there now. Wakes
       are not merged: each call gets its own on_wake. FERRY_E_NOT_FOUND when the connection is closed (or belongs
       to another plugin). The plugin passes data alongside in its own thread-safe state. */
    ferry_status (*wake)(void *ctx, uint64_t conn_id, uint64_t token);
    /* Opens an outbound TCP connection to address ("host:port"). The outcome is one on_connect(instance, ..., tag)
       call: with a connection (then the usual hooks follow) or with the failure. */
    ferry_status (*connect)(void *ctx, const char *address, size_t address_len, uint64_t tag);
    /* One-shot instance timer: on_instance_timer(instance, timer_id) after delay_ms, on a kernel thread that is
       not any connection's. Setting an existing id re-arms it. */
    ferry_status (*set_instance_timer)(void *ctx, uint64_t timer_id, uint32_t delay_ms);
    /* The bound "host:port" of the plugin's listeners[listener_index] (the real port when 0 was asked), NUL-
       terminated into buf (caller-owned). FERRY_E_NOT_FOUND when that listener is off. Valid once init returned. */
    ferry_status (*listener_address)(void *ctx, uint32_t listener_index, char *buf, size_t cap);

    /* ---- topics (synchronous; the metadata write reaches storage before any later write) ---- */
    /* Creates the topic and its durable queues, or updates its queue counts, perm and flags (growing creates the
       missing queues; shrinking keeps the queues and their messages). FERRY_E_INVALID_ARGUMENT for a bad name or
       a count of 0 or above 1024. */
    ferry_status (*topic_declare)(void *ctx, const ferry_topic_info *topic, uint32_t flags);
    /* Deletes the topic and its queues (messages and offsets included). FERRY_E_NOT_FOUND when absent. */
    ferry_status (*topic_delete)(void *ctx, const char *name, size_t name_len);
    /* sink(topic) for the named topic; FERRY_E_NOT_FOUND when absent. */
    ferry_status (*topic_get)(void *ctx, const char *name, size_t name_len, ferry_topic_sink sink, void *sink_ctx);
    /* sink(topic) for every topic, in name order. */
    ferry_status (*topic_list)(void *ctx, ferry_topic_sink sink, void *sink_ctx);

    /* ---- queue state ---- */
    /* Synchronous snapshot (in memory, no storage access). out: caller-owned, struct_size set by the caller.
       FERRY_E_NOT_FOUND when the queue does not exist. */
    ferry_status (*queue_info)(void *ctx, const char *name, size_t name_len, ferry_queue_info *out);
    /* The name of the queue with this id, NUL-terminated into name_buf (caller-owned); FERRY_E_NOT_FOUND. */
    ferry_status (*queue_name)(void *ctx, uint64_t queue_id, char *name_buf, size_t cap, size_t *name_len);
    /* Result: offset = the group's committed offset; status FERRY_E_NOT_FOUND when the group never committed. */
    ferry_status (*offset_get)(ferry_conn *conn, uint64_t correlation_id, const char *queue, size_t queue_len,
                               const char *group, size_t group_len);
    /* Result: offset = the first offset whose store time is >= time_ms (next when none is);
       FERRY_E_UNSUPPORTED when the storage plugin has no time index. */
    ferry_status (*seek_time)(ferry_conn *conn, uint64_t correlation_id, const char *queue, size_t queue_len,
                              uint64_t time_ms);

    /* ==== ABI 1.3: prepared messages (RocketMQ half messages; durable, invisible until committed) ==== */
    /* Stores message durably for queue without delivering it. group (borrowed) names who may be asked about it
       (a producer group), reported by prepared_list. Result: offset = the message's handle, message_id. */
    ferry_status (*publish_prepared)(ferry_conn *conn, uint64_t correlation_id, const char *queue, size_t queue_len,
                                     const ferry_message *message, const char *group, size_t group_len);
    /* Resolves a prepared message: COMMIT appends it to its queue (queue_override, when not NULL, names another
       queue), ROLLBACK drops it. Result: offset = the queue offset on commit; FERRY_E_NOT_FOUND when the handle is
       unknown or already resolved. conn may be NULL when correlation_id is 0 (no result wanted). */
    ferry_status (*prepared_end)(ferry_conn *conn, uint64_t correlation_id, uint64_t handle, uint32_t flags,
                                 const char *queue_override, size_t queue_override_len);
    /* sink(...) for every unresolved prepared message, oldest first (an in-memory snapshot; any thread). */
    ferry_status (*prepared_list)(void *ctx, ferry_prepared_sink sink, void *sink_ctx);
    /* Reads one prepared message: on_delivery (offset = handle, queue = its queue) then on_result;
       FERRY_E_NOT_FOUND in the result when it is unknown or resolved. */
    ferry_status (*prepared_read)(ferry_conn *conn, uint64_t correlation_id, uint64_t handle);

    /* ==== ABI 1.4: the message index by key ==== */
    /* Every message stored in a durable queue is indexed under each space-separated token of its `keys`, for as
       long as storage retention keeps it. Finds up to max_messages (0: 64) with this key, stored between begin_ms
       and end_ms (wall clock, inclusive), in queues whose names start with queue_prefix (may be empty): each through
       on_delivery (queue, offset, message), newest first, then on_result with message_count. */
    ferry_status (*query_key)(ferry_conn *conn, uint64_t correlation_id, const char *key, size_t key_len,
                              const char *queue_prefix, size_t queue_prefix_len, uint64_t begin_ms, uint64_t end_ms,
                              uint32_t max_messages);

    /* ==== ABI 1.5: exchanges, bindings, queue arguments, get, users and vhosts (the AMQP model) ==== */
    /* Names: see FERRY_VHOST_SEPARATOR. Results of the calls below come through on_result like the others. */

    /* Declares a queue with arguments (options may be NULL: none). Besides queue_declare's flags: FERRY_QUEUE_
       EXCLUSIVE (owned by this connection, deleted when it closes; FERRY_E_LOCKED for any other connection) and
       FERRY_QUEUE_AUTO_DELETE (deleted when its last consumer goes). Redeclaring with other flags or options is
       FERRY_E_MISMATCH with a text naming the first difference in RabbitMQ's words ("inequivalent arg 'durable'
       for queue 'q' in vhost '/': received 'true' but current is 'false'"). Result: message_count (ready),
       consumer_count. A declare (also passive) counts as use for expires_ms. */
    ferry_status (*queue_declare_ex)(ferry_conn *conn, uint64_t correlation_id, const char *name, size_t name_len,
                                     uint32_t flags, const ferry_queue_options *options);
    /* Drops every ready message. Result: message_count = messages dropped. */
    ferry_status (*queue_purge)(ferry_conn *conn, uint64_t correlation_id, const char *name, size_t name_len);
    /* Takes one ready message: on_delivery (FERRY_DELIVERY_GET, subscription_id = the id to ack or nack it with,
       ready_count) unless the queue is empty, then on_result with message_count = messages delivered (0 or 1).
       flags: FERRY_SUBSCRIBE_AUTO_ACK. */
    ferry_status (*get)(ferry_conn *conn, uint64_t correlation_id, const char *queue, size_t queue_len, uint32_t flags);
    /* ack / nack of several deliveries of one subscription at once; flags as in nack (FERRY_ACK_REQUEUE). A nack
       without requeue dead-letters (reason "rejected") when the queue has a dead-letter exchange. Offsets that are
       not unacked deliveries of the subscription are skipped; FERRY_E_NOT_FOUND when none was. */
    ferry_status (*settle_many)(ferry_conn *conn, uint64_t subscription_id, const uint64_t *offsets, size_t count,
                                uint32_t flags, int32_t is_ack);
    /* Stops (paused != 0) or resumes deliveries to a subscription; unacked ones stay unacked. */
    ferry_status (*subscription_pause)(ferry_conn *conn, uint64_t subscription_id, int32_t paused);

    /* Exchanges. Result of declare: FERRY_E_NOT_FOUND (passive, missing), FERRY_E_MISMATCH (other type or flags),
       FERRY_E_INVALID_ARGUMENT (unknown type). Delete: FERRY_E_BUSY (FERRY_EXCHANGE_IF_UNUSED and bound). */
    ferry_status (*exchange_declare)(ferry_conn *conn, uint64_t correlation_id, const char *name, size_t name_len,
                                     const ferry_exchange_options *options);
    ferry_status (*exchange_delete)(ferry_conn *conn, uint64_t correlation_id, const char *name, size_t name_len,
                                    uint32_t flags);
    /* Bindings (idempotent). Result: FERRY_E_NOT_FOUND naming the missing source or destination. */
    ferry_status (*bind)(ferry_conn *conn, uint64_t correlation_id, const ferry_binding *binding);
    ferry_status (*unbind)(ferry_conn *conn, uint64_t correlation_id, const ferry_binding *binding);
    /*
     * Routes message through exchange (the vhost's default exchange "" routes to the queue named by the routing
     * key) into every matching queue, following exchange-to-exchange bindings and topic exchanges. The message is
     * copied once. Synchronous FERRY_E_NOT_FOUND: no such exchange; FERRY_E_ACCESS_DENIED: an internal exchange.
     * Result (unless FERRY_PUBLISH_NO_RESULT): message_count = queues that took it, after every persistent copy in a
     * durable queue is stored; status FERRY_E_NO_SPACE when a full queue with overflow reject-publish refused it
     * (others may have taken it), message_id. A message with deliver_at_ms, or with an x-delayed-message
     * exchange's delay (the `x-delay` property, milliseconds), is kept by the kernel's delay store and routed then.
     */
    ferry_status (*route)(ferry_conn *conn, uint64_t correlation_id, const char *exchange, size_t exchange_len,
                          const ferry_message *message, uint32_t flags);

    /* Users, vhosts, permissions (RabbitMQ's model; kept by the kernel; any thread). */
    /* FERRY_OK when user may log in with password from peer_host (a user in auth.loopback_users only from a
       loopback address); FERRY_E_ACCESS_DENIED otherwise, with the reason (never the password) in err. */
    ferry_status (*authenticate)(void *ctx, const char *user, size_t user_len, const char *password,
                                 size_t password_len, const char *peer_host, size_t peer_host_len, char *err,
                                 size_t err_cap);
    /* FERRY_OK; FERRY_E_NOT_FOUND: no such vhost; FERRY_E_ACCESS_DENIED: the user has no permissions there. */
    ferry_status (*vhost_access)(void *ctx, const char *user, size_t user_len, const char *vhost, size_t vhost_len);
    /* Whether user may do `what` (FERRY_PERMISSION_*) to resource (a queue or exchange name without its vhost)
       in vhost: the user's regex for that kind must match the whole name. FERRY_OK or FERRY_E_ACCESS_DENIED. */
    ferry_status (*permission_check)(void *ctx, const char *user, size_t user_len, const char *vhost,
                                     size_t vhost_len, uint32_t what, const char *resource, size_t resource_len);

    /* ==== ABI 1.6 ==== */
    /* The alarms raised now (FERRY_ALARM_* bits), e.g. for a connection that opens while one is raised. Any thread. */
    uint32_t (*resource_alarms)(void *ctx);
    /* Stops (paused != 0) or resumes (0) reading from conn: unread bytes wait in the socket, so the peer feels TCP
       back-pressure. On resume, bytes the plugin left unconsumed are offered again at once, without waiting for new
       ones. Connection thread. */
    ferry_status (*set_read_paused)(ferry_conn *conn, int32_t paused);

    /* ==== ABI 1.7 ==== */
    /* This broker's role and identity now (a promotion changes them). out->struct_size: set by the caller; the
       kernel fills min(struct_size, its own size). Any thread. */
    ferry_status (*replication_info)(void *ctx, ferry_replication_info *out);
    /* A slave learnt its master's replication address from elsewhere (RocketMQ: the name server's REGISTER_BROKER
       answer, haServerAddr). Used while replication.master is empty; ignored on a master. Any thread. */
    void (*replication_master_hint)(void *ctx, const char *address, size_t address_len);

    /* ==== ABI 1.8 ==== */
    /* Tells the kernel who is on conn, for the admin API's connection list (GET /api/v1/connections); call again
       whenever it changes (login, a channel opened or closed). Connection thread. */
    ferry_status (*set_conn_identity)(ferry_conn *conn, const ferry_conn_identity *identity);
} ferry_protocol_host;

typedef struct ferry_protocol_vtable {
    uint32_t struct_size;
    const ferry_listener_spec *listeners; /* static array; stride = listeners[0].struct_size */
    uint32_t listener_count;

    /* Once, on the main thread, before any listener opens. host: kernel-owned, keep it. *instance_out: plugin-owned. */
    ferry_status (*init)(const ferry_protocol_host *host, ferry_protocol **instance_out, char *err, size_t err_cap);
    /* A peer connected to listeners[listener_index]. A non-OK return closes the connection at once. */
    ferry_status (*on_open)(ferry_protocol *instance, ferry_conn *conn, uint32_t listener_index,
                            ferry_session **session_out);
    /*
     * Bytes arrived. data: borrowed, every unconsumed byte so far. The plugin consumes whole frames and sets
     * *consumed; the kernel keeps the rest and offers it again with more. Any non-OK return closes the connection
     * after what the plugin wrote is flushed (send the protocol's own error first).
     */
    ferry_status (*on_read)(ferry_session *session, const uint8_t *data, size_t len, size_t *consumed);
    void (*on_delivery)(ferry_session *session, const ferry_delivery *delivery);
    void (*on_result)(ferry_session *session, const ferry_result *result);
    void (*on_timer)(ferry_session *session, uint64_t timer_id);
    /* The last hook for this connection: free the session. The conn handle is invalid afterwards. */
    void (*on_close)(ferry_session *session, int32_t reason);
    /* Broker shutdown, after every connection is closed. May be NULL. */
    void (*shutdown)(ferry_protocol *instance);

    /* ==== ABI 1.1; each may be NULL (the matching host service is then refused with FERRY_E_UNSUPPORTED) ==== */
    /* A host->wake for this connection. */
    void (*on_wake)(ferry_session *session, uint64_t token);
    /*
     * The outcome of host->connect(tag). Success: conn is the new connection, status FERRY_OK; fill *session_out
     * (a non-OK return closes it; on_close does not follow then). Failure: conn and session_out are NULL, status
     * says why and text (borrowed, may be NULL) how. Runs on the connection's thread (failure: a kernel thread).
     */
    ferry_status (*on_connect)(ferry_protocol *instance, ferry_conn *conn, uint64_t tag, ferry_status status,
                               const char *text, ferry_session **session_out);
    /* A host->set_instance_timer fired. Must not block: it shares its thread with the kernel's other timers. */
    void (*on_instance_timer)(ferry_protocol *instance, uint64_t timer_id);

    /* ==== ABI 1.5; may be NULL ==== */
    /* A lease subscription ended without unsubscribe (reason FERRY_SUBSCRIPTION_END_*): the queue was deleted.
       Its unacked deliveries are gone; acking them answers FERRY_E_NOT_FOUND. */
    void (*on_subscription_end)(ferry_session *session, uint64_t subscription_id, int32_t reason);

    /* ==== ABI 1.6; may be NULL ==== */
    /* The set of raised resource alarms changed (FERRY_ALARM_* bits; 0: all cleared). Called on every open
       connection's thread; a connection that opens later asks host->resource_alarms. */
    void (*on_alarm)(ferry_session *session, uint32_t alarms);

    /* ==== ABI 1.8; may be NULL ==== */
    /* An operator asks to close the connection (admin API; reason: borrowed, e.g. "closed by user 'guest'"). The
       plugin says goodbye in its protocol (AMQP: connection.close 320 CONNECTION_FORCED) and calls host->close.
       Without the hook, or when the connection is still open 5 s later, the kernel closes it (FERRY_CLOSE_ADMIN). */
    void (*on_close_request)(ferry_session *session, const char *reason, size_t reason_len);
    /* Lists the consumer-group members the plugin's clients registered: sink(sink_ctx, member) for each, before it
       returns. Called from the kernel's admin threads, concurrently with the connection hooks: the plugin locks
       what it reads. */
    void (*list_group_members)(ferry_protocol *instance, ferry_group_member_sink sink, void *sink_ctx);
    /* Lists the connection's channels (protocols that multiplex them): sink(sink_ctx, channel) for each, before it
       returns. Called on the connection's thread, like every hook. */
    void (*list_channels)(ferry_session *session, ferry_channel_sink sink, void *sink_ctx);
    /* Decodes a message id of the plugin's own protocol (RocketMQ's offset msgId) into the kernel queue id and offset
       of the message it names: FERRY_OK, or FERRY_E_NOT_FOUND when id is not one of the plugin's. Any thread. */
    ferry_status (*resolve_message_id)(ferry_protocol *instance, const char *id, size_t id_len, uint64_t *queue_id_out,
                                       uint64_t *offset_out);
} ferry_protocol_vtable;

#endif /* FERRY_PROTOCOL_H */
