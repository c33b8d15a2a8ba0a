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

/* pull(): read from the group's committed offset (0 when the group has none). */
#define FERRY_OFFSET_COMMITTED UINT64_MAX

/* on_close reasons. */
#define FERRY_CLOSE_PEER 1        /* the peer closed or reset the connection */
#define FERRY_CLOSE_REQUESTED 2   /* the plugin called host->close */
#define FERRY_CLOSE_IDLE 3        /* no bytes received within network.idle_timeout_ms */
#define FERRY_CLOSE_PROTOCOL 4    /* on_read returned an error, or a frame exceeded network.max_frame_bytes */
#define FERRY_CLOSE_SHUTDOWN 5    /* the broker is stopping */

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
} ferry_message;

typedef struct ferry_subscribe_options {
    uint32_t struct_size;
    const char *queue;
    size_t queue_len;
    uint32_t prefetch; /* maximum unacked deliveries in flight; 0: unlimited */
    uint32_t flags;    /* FERRY_SUBSCRIBE_* */
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
} ferry_protocol_vtable;

#endif /* FERRY_PROTOCOL_H */
