/*
 * line_protocol.c -- "line", Ferry's example third-party protocol plugin, in plain C99.
 *
 * A text protocol one can speak with netcat: one command per line ("\n", "\r\n" tolerated), one reply line per
 * command, replies in the order of the commands, deliveries as MSG lines. See README.md for the command list.
 *
 * The plugin is sans-I/O (broker/include/ferry/ferry_protocol.h): it never touches a socket. The kernel hands it
 * the bytes a peer sent (on_read) and the outcomes of the host services it called (on_result, on_delivery); it
 * answers by calling host services (write, close, queue_declare, publish, subscribe, ack, nack, pull,
 * commit_offset). It uses only the public headers.
 *
 * Contracts kept here:
 *  - Threading: the instance (struct ferry_protocol) is read-only after init, so sessions on different threads
 *    share it safely. A session is only touched from its own connection's hooks, which the kernel never runs
 *    concurrently, so it needs no lock.
 *  - Ownership: the plugin frees everything it allocates; the session and all it holds are freed in on_close,
 *    the instance in shutdown. Bytes the kernel passes are borrowed for the hook call; publish() copies.
 *  - Reply order: asynchronous results (DECLARE, PUB, PULL, COMMIT) may complete out of order, so every command
 *    gets a reply slot in a FIFO; a slot is written once it and every slot before it are complete.
 *  - Errors never escape as crashes: a bad command gets "ERR <status> <text>" and the connection stays; bytes that
 *    break the framing (a line over max_line_bytes, a control byte, invalid UTF-8) get ERR and on_read returns
 *    FERRY_E_PROTOCOL, which makes the kernel close the connection after flushing what was written.
 */
#include <ferry/ferry_protocol.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_PLUGIN_NAME "line"
#define LINE_PLUGIN_VERSION "1.0.0"
#define LINE_MIN_MAX_LINE_BYTES 64u
#define LINE_MAX_MAX_LINE_BYTES (16u * 1024u * 1024u)
/* Commands whose reply is not yet written. A peer pipelining more than this is disconnected (ERR, then close). */
#define LINE_MAX_COMMANDS_IN_FLIGHT 1024u
#define LINE_DEFAULT_PULL_MAX 32u
#define LINE_MAX_PULL_MAX 4096u

/* ==== Static descriptor ======================================================================================== */

static const ferry_listener_spec line_listeners[] = {
    {sizeof(ferry_listener_spec), "listen", "127.0.0.1:7878", "address of the line protocol listener (host:port)"},
};

static const ferry_config_key line_config_keys[] = {
    {sizeof(ferry_config_key), "max_line_bytes", "65536",
     "longest accepted command line in bytes, without its line ending (64 .. 16777216)"},
};

/* ==== Growable byte buffer ===================================================================================== */

typedef struct line_buf {
    char *data;
    size_t len;
    size_t cap;
} line_buf;

/* Returns 0, or -1 when memory runs out (the buffer is unchanged then). */
static int buf_reserve(line_buf *buf, size_t extra)
{
    size_t want;
    size_t new_cap;
    char *grown;
    if (extra > (size_t)-1 - buf->len)
        return -1;
    want = buf->len + extra;
    if (want <= buf->cap)
        return 0;
    new_cap = buf->cap < 64 ? 64 : buf->cap;
    while (new_cap < want)
        new_cap = new_cap > (size_t)-1 / 2 ? want : new_cap * 2;
    grown = (char *)realloc(buf->data, new_cap);
    if (grown == NULL)
        return -1;
    buf->data = grown;
    buf->cap = new_cap;
    return 0;
}

static int buf_append(line_buf *buf, const char *data, size_t len)
{
    if (len == 0)
        return 0;
    if (buf_reserve(buf, len) != 0)
        return -1;
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return 0;
}

static int buf_append_str(line_buf *buf, const char *text)
{
    return buf_append(buf, text, strlen(text));
}

static int buf_append_u64(line_buf *buf, uint64_t value)
{
    char digits[24];
    const int n = snprintf(digits, sizeof digits, "%" PRIu64, value);
    return buf_append(buf, digits, (size_t)n);
}

static int buf_append_i32(line_buf *buf, int32_t value)
{
    char digits[16];
    const int n = snprintf(digits, sizeof digits, "%" PRId32, value);
    return buf_append(buf, digits, (size_t)n);
}

static void buf_free(line_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

/* ==== UTF-8 and escaping ======================================================================================== */

/* Length of the well-formed UTF-8 sequence at text[0..len), or 0 when it is not well-formed (RFC 3629). */
static size_t utf8_sequence_length(const uint8_t *text, size_t len)
{
    const uint8_t lead = text[0];
    size_t need;
    uint8_t second_low = 0x80, second_high = 0xBF;
    size_t i;
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 3;
        if (lead == 0xE0)
            second_low = 0xA0; /* no overlong forms */
        if (lead == 0xED)
            second_high = 0x9F; /* no UTF-16 surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 4;
        if (lead == 0xF0)
            second_low = 0x90;
        if (lead == 0xF4)
            second_high = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (len < need || text[1] < second_low || text[1] > second_high)
        return 0;
    for (i = 2; i < need; ++i)
        if (text[i] < 0x80 || text[i] > 0xBF)
            return 0;
    return need;
}

/*
 * Checks a command line (without its line ending): UTF-8, no control byte except TAB. On failure writes a short
 * reason into reason (cap bytes) and returns -1.
 */
static int validate_line(const uint8_t *line, size_t len, char *reason, size_t cap)
{
    size_t i = 0;
    while (i < len) {
        const uint8_t byte = line[i];
        size_t step;
        if ((byte < 0x20 && byte != '\t') || byte == 0x7F) {
            snprintf(reason, cap, "control byte 0x%02X at column %lu", (unsigned)byte, (unsigned long)(i + 1));
            return -1;
        }
        step = utf8_sequence_length(line + i, len - i);
        if (step == 0) {
            snprintf(reason, cap, "invalid UTF-8 at column %lu", (unsigned long)(i + 1));
            return -1;
        }
        i += step;
    }
    return 0;
}

/*
 * Appends bytes as line-safe text: backslash, CR, LF, other control bytes (except TAB) and bytes that are not
 * well-formed UTF-8 are escaped as \\ \r \n \xHH. PUB undoes exactly this (unescape_text), so any body
 * round-trips.
 */
static int append_escaped(line_buf *out, const uint8_t *bytes, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < len) {
        const uint8_t byte = bytes[i];
        char escape[4];
        size_t step;
        if (byte == '\\') {
            if (buf_append(out, "\\\\", 2) != 0)
                return -1;
            ++i;
            continue;
        }
        if (byte == '\n' || byte == '\r') {
            if (buf_append(out, byte == '\n' ? "\\n" : "\\r", 2) != 0)
                return -1;
            ++i;
            continue;
        }
        step = ((byte < 0x20 && byte != '\t') || byte == 0x7F) ? 0 : utf8_sequence_length(bytes + i, len - i);
        if (step == 0) {
            escape[0] = '\\';
            escape[1] = 'x';
            escape[2] = hex[byte >> 4];
            escape[3] = hex[byte & 0x0F];
            if (buf_append(out, escape, 4) != 0)
                return -1;
            ++i;
            continue;
        }
        if (buf_append(out, (const char *)bytes + i, step) != 0)
            return -1;
        i += step;
    }
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes PUB text (escapes: \\ \n \r \t \xHH). Returns 0, -1 when out of memory, -2 for a bad escape. */
static int unescape_text(line_buf *out, const char *text, size_t len)
{
    size_t i = 0;
    if (buf_reserve(out, len) != 0) /* decoded text is never longer than the input */
        return -1;
    while (i < len) {
        char c = text[i];
        if (c != '\\') {
            out->data[out->len++] = c;
            ++i;
            continue;
        }
        if (i + 1 >= len)
            return -2;
        c = text[i + 1];
        if (c == '\\' || c == 'n' || c == 'r' || c == 't') {
            out->data[out->len++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : '\\';
            i += 2;
        } else if (c == 'x' && i + 3 < len && hex_value(text[i + 2]) >= 0 && hex_value(text[i + 3]) >= 0) {
            out->data[out->len++] = (char)(hex_value(text[i + 2]) * 16 + hex_value(text[i + 3]));
            i += 4;
        } else {
            return -2;
        }
    }
    return 0;
}

/* ==== Plugin state ============================================================================================= */

/* The instance: created by init, read-only afterwards, freed by shutdown. */
struct ferry_protocol {
    const ferry_protocol_host *host; /* kernel-owned, valid for the life of the process */
    size_t max_line_bytes;
};

/* What an asynchronous command waits for. */
enum reply_kind { REPLY_READY = 0, REPLY_DECLARE, REPLY_PUBLISH, REPLY_PULL, REPLY_COMMIT };

/* One entry of the session's output FIFO: the reply to one command, or delivery lines queued behind a reply. */
typedef struct reply_slot {
    struct reply_slot *next;
    uint64_t correlation_id; /* host call this slot waits for; 0 once complete */
    enum reply_kind waiting_for;
    int is_command;   /* counts towards LINE_MAX_COMMANDS_IN_FLIGHT */
    int close_after;  /* QUIT: close the connection once this slot is written */
    line_buf text;    /* complete lines, each ending in "\n" */
} reply_slot;

/* The number a MSG line shows for a subscription delivery, and what ACK/NACK <n> means. */
typedef struct delivery_tag {
    uint64_t number;
    uint64_t subscription_id; /* 0 once acked, nacked or unsubscribed */
    uint64_t offset;
} delivery_tag;

/* Per-connection state, owned by the plugin from on_open to on_close. */
struct ferry_session {
    ferry_protocol *instance;
    ferry_conn *conn;
    uint64_t next_correlation_id;
    reply_slot *head; /* oldest reply not yet written */
    reply_slot *tail;
    size_t commands_in_flight;
    size_t scanned;   /* leading bytes of the unconsumed input already searched for "\n" (none found) */
    uint64_t next_tag_number;
    delivery_tag *tags; /* ascending by number */
    size_t tag_count;
    size_t tag_cap;
    size_t dead_tags;
    int quitting; /* QUIT seen: further input is ignored */
    int closed;   /* close requested or a write failed: nothing more is written */
};

static void log_text(const ferry_protocol *instance, int32_t level, const char *text)
{
    const ferry_host *base = instance->host->base;
    base->log(base->ctx, level, text, strlen(text));
}

static const char *status_name(ferry_status status)
{
    switch (status) {
    case FERRY_OK: return "ok";
    case FERRY_E_INVALID_ARGUMENT: return "invalid argument";
    case FERRY_E_NOT_FOUND: return "not found";
    case FERRY_E_ALREADY_EXISTS: return "already exists";
    case FERRY_E_IO: return "i/o error";
    case FERRY_E_CORRUPT: return "corrupt";
    case FERRY_E_UNSUPPORTED: return "unsupported";
    case FERRY_E_NO_SPACE: return "no space";
    case FERRY_E_TOO_LARGE: return "too large";
    case FERRY_E_CLOSED: return "closed";
    case FERRY_E_ABI_MISMATCH: return "abi mismatch";
    case FERRY_E_INTERNAL: return "internal error";
    case FERRY_E_PROTOCOL: return "protocol error";
    case FERRY_E_ACCESS_DENIED: return "access denied";
    case FERRY_E_BUSY: return "busy";
    case FERRY_E_NO_MEMORY: return "out of memory";
    case FERRY_E_TIMEOUT: return "timeout";
    case FERRY_E_CONFIG: return "configuration error";
    default: return "error";
    }
}

/* Appends "ERR <status> <text>\n"; text (may be NULL) is escaped, the status name is used when it is empty. */
static int append_error_line(line_buf *out, ferry_status status, const char *text, size_t text_len)
{
    if (buf_append_str(out, "ERR ") != 0 || buf_append_i32(out, status) != 0 || buf_append(out, " ", 1) != 0)
        return -1;
    if (text == NULL || text_len == 0) {
        text = status_name(status);
        text_len = strlen(text);
    }
    if (append_escaped(out, (const uint8_t *)text, text_len) != 0)
        return -1;
    return buf_append(out, "\n", 1);
}

/* ==== Output: writing and the reply FIFO ======================================================================= */

static void close_connection(ferry_session *session, const char *reason)
{
    if (session->closed)
        return;
    session->closed = 1;
    session->instance->host->close(session->conn, reason);
}

static void write_bytes(ferry_session *session, const char *data, size_t len)
{
    if (session->closed || len == 0)
        return;
    if (session->instance->host->write(session->conn, (const uint8_t *)data, len) != FERRY_OK)
        session->closed = 1; /* the kernel is closing the connection; on_close follows */
}

static void free_slot(ferry_session *session, reply_slot *slot)
{
    if (slot->is_command)
        --session->commands_in_flight;
    buf_free(&slot->text);
    free(slot);
}

/* Writes every complete slot at the head of the FIFO, in order. */
static void flush_replies(ferry_session *session)
{
    while (session->head != NULL && session->head->waiting_for == REPLY_READY) {
        reply_slot *slot = session->head;
        const int close_after = slot->close_after;
        session->head = slot->next;
        if (session->head == NULL)
            session->tail = NULL;
        write_bytes(session, slot->text.data, slot->text.len);
        free_slot(session, slot);
        if (close_after)
            close_connection(session, "client sent QUIT");
    }
}

/* Appends an empty slot to the FIFO. Returns NULL when memory runs out. */
static reply_slot *push_slot(ferry_session *session, enum reply_kind waiting_for, uint64_t correlation_id,
                             int is_command)
{
    reply_slot *slot = (reply_slot *)calloc(1, sizeof *slot);
    if (slot == NULL)
        return NULL;
    slot->waiting_for = waiting_for;
    slot->correlation_id = correlation_id;
    slot->is_command = is_command;
    if (is_command)
        ++session->commands_in_flight;
    if (session->tail != NULL)
        session->tail->next = slot;
    else
        session->head = slot;
    session->tail = slot;
    return slot;
}

static reply_slot *find_slot(ferry_session *session, uint64_t correlation_id)
{
    reply_slot *slot;
    for (slot = session->head; slot != NULL; slot = slot->next)
        if (slot->waiting_for != REPLY_READY && slot->correlation_id == correlation_id)
            return slot;
    return NULL;
}

/*
 * Sends complete lines in FIFO order: written at once when nothing is pending, else queued behind the pending
 * replies. Returns 0, or -1 when memory runs out.
 */
static int emit(ferry_session *session, const line_buf *lines, int is_command)
{
    reply_slot *slot;
    if (session->head == NULL) {
        write_bytes(session, lines->data, lines->len);
        return 0;
    }
    slot = push_slot(session, REPLY_READY, 0, is_command);
    if (slot == NULL)
        return -1;
    return buf_append(&slot->text, lines->data, lines->len);
}

/* Emits one complete reply line; returns FERRY_OK or FERRY_E_NO_MEMORY. */
static ferry_status reply_line(ferry_session *session, const char *text)
{
    line_buf line = {NULL, 0, 0};
    ferry_status status = FERRY_OK;
    if (buf_append_str(&line, text) != 0 || buf_append(&line, "\n", 1) != 0 || emit(session, &line, 1) != 0)
        status = FERRY_E_NO_MEMORY;
    buf_free(&line);
    return status;
}

static ferry_status reply_error(ferry_session *session, ferry_status code, const char *text)
{
    line_buf line = {NULL, 0, 0};
    ferry_status status = FERRY_OK;
    if (append_error_line(&line, code, text, text != NULL ? strlen(text) : 0) != 0 || emit(session, &line, 1) != 0)
        status = FERRY_E_NO_MEMORY;
    buf_free(&line);
    return status;
}

/* ==== Delivery tags ============================================================================================ */

static delivery_tag *find_tag(ferry_session *session, uint64_t number)
{
    size_t low = 0, high = session->tag_count;
    while (low < high) {
        const size_t mid = low + (high - low) / 2;
        if (session->tags[mid].number < number)
            low = mid + 1;
        else
            high = mid;
    }
    if (low < session->tag_count && session->tags[low].number == number && session->tags[low].subscription_id != 0)
        return &session->tags[low];
    return NULL;
}

/* Drops dead entries once they are the majority, so the array stays proportional to unacked deliveries. */
static void retire_tag(ferry_session *session, delivery_tag *tag)
{
    size_t from, to = 0;
    tag->subscription_id = 0;
    ++session->dead_tags;
    if (session->dead_tags < 64 || session->dead_tags * 2 < session->tag_count)
        return;
    for (from = 0; from < session->tag_count; ++from)
        if (session->tags[from].subscription_id != 0)
            session->tags[to++] = session->tags[from];
    session->tag_count = to;
    session->dead_tags = 0;
}

/* Returns the new tag's number, or 0 when memory runs out. */
static uint64_t add_tag(ferry_session *session, uint64_t subscription_id, uint64_t offset)
{
    delivery_tag *tag;
    if (session->tag_count == session->tag_cap) {
        const size_t new_cap = session->tag_cap == 0 ? 64 : session->tag_cap * 2;
        delivery_tag *grown;
        if (new_cap > (size_t)-1 / sizeof *grown)
            return 0;
        grown = (delivery_tag *)realloc(session->tags, new_cap * sizeof *grown);
        if (grown == NULL)
            return 0;
        session->tags = grown;
        session->tag_cap = new_cap;
    }
    tag = &session->tags[session->tag_count++];
    tag->number = session->next_tag_number++;
    tag->subscription_id = subscription_id;
    tag->offset = offset;
    return tag->number;
}

/* ==== Command parsing ========================================================================================== */

typedef struct text_span {
    const char *data;
    size_t len;
} text_span;

/* Skips spaces and returns the next run of non-space bytes (empty at the end of the line). */
static text_span next_token(const char **cursor, const char *end)
{
    text_span token;
    while (*cursor < end && (**cursor == ' ' || **cursor == '\t'))
        ++*cursor;
    token.data = *cursor;
    while (*cursor < end && **cursor != ' ' && **cursor != '\t')
        ++*cursor;
    token.len = (size_t)(*cursor - token.data);
    return token;
}

static int token_equals(text_span token, const char *word)
{
    size_t i;
    if (token.len != strlen(word))
        return 0;
    for (i = 0; i < token.len; ++i) {
        char c = token.data[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != word[i])
            return 0;
    }
    return 1;
}

/* Parses a decimal uint64 that spans the whole token. Returns 0, or -1. */
static int parse_u64(text_span token, uint64_t *value)
{
    uint64_t result = 0;
    size_t i;
    if (token.len == 0)
        return -1;
    for (i = 0; i < token.len; ++i) {
        const char c = token.data[i];
        if (c < '0' || c > '9')
            return -1;
        if (result > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
            return -1;
        result = result * 10 + (uint64_t)(c - '0');
    }
    *value = result;
    return 0;
}

/* Parses an optional uint32 argument (absent: fallback). Returns 0, or -1. */
static int parse_optional_u32(text_span token, uint32_t fallback, uint32_t *value)
{
    uint64_t parsed;
    if (token.len == 0) {
        *value = fallback;
        return 0;
    }
    if (parse_u64(token, &parsed) != 0 || parsed > UINT32_MAX)
        return -1;
    *value = (uint32_t)parsed;
    return 0;
}

/* ==== Commands ================================================================================================= */

/* Every command handler returns FERRY_OK (including when it replied ERR) or a status that ends the connection. */

/*
 * Registers a pending reply for an asynchronous host call that returned `call_status` synchronously: on FERRY_OK
 * the slot waits for on_result, otherwise (rejected, no result will follow) it becomes an ERR reply at once.
 */
static ferry_status finish_async(ferry_session *session, reply_slot *slot, ferry_status call_status)
{
    if (call_status == FERRY_OK)
        return FERRY_OK;
    slot->waiting_for = REPLY_READY;
    slot->correlation_id = 0;
    if (append_error_line(&slot->text, call_status, NULL, 0) != 0)
        return FERRY_E_NO_MEMORY;
    flush_replies(session);
    return FERRY_OK;
}

static ferry_status cmd_declare(ferry_session *session, const char *cursor, const char *end)
{
    const text_span queue = next_token(&cursor, end);
    const text_span option = next_token(&cursor, end);
    uint32_t flags = 0;
    uint64_t correlation_id;
    reply_slot *slot;
    if (queue.len == 0 || next_token(&cursor, end).len != 0)
        return reply_error(session, FERRY_E_INVALID_ARGUMENT, "usage: DECLARE <queue> [durable]");
    if (option.len != 0) {
        if (!token_equals(option, "DURABLE"))
            return reply_error(session, FERRY_E_INVALID_ARGUMENT, "usage: DECLARE <queue> [durable]");
        flags |= FERRY_QUEUE_DURABLE;
    }
    correlation_id = session->next_correlation_id++;
    slot = push_slot(session, REPLY_DECLARE, correlation_id, 1);
    if (slot == NULL)
        return FERRY_E_NO_MEMORY;
    return finish_async(session, slot,
                        session->instance->host->queue_declare(session->conn, correlation_id, queue.data,
                                                               queue.len, flags));
}

static ferry_status cmd_publish(ferry_session *session, const char *cursor, const char *end)
{
    const text_span queue = next_token(&cursor, end);
    line_buf body = {NULL, 0, 0};
    ferry_message message;
    uint64_t correlation_id;
    reply_slot *slot;
    int decoded;
    ferry_status status;
    if (queue.len == 0)
        return reply_error(session, FERRY_E_INVALID_ARGUMENT, "usage: PUB <queue> <text>");
    if (cursor < end) /* the text is everything after the one separator that follows the queue name */
        ++cursor;
    decoded = unescape_text(&body, cursor, (size_t)(end - cursor));
    if (decoded != 0) {
        buf_free(&body);
        if (decoded == -1)
            return FERRY_E_NO_MEMORY;
        return reply_error(session, FERRY_E_INVALID_ARGUMENT, "bad escape in text");
    }

    memset(&message, 0, sizeof message);
    message.struct_size = sizeof message;
    message.flags = FERRY_MESSAGE_PERSISTENT; /* stored before the result when the queue is durable */
    message.body = (const uint8_t *)body.data;
    message.body_len = body.len;
    message.born_time_ms = session->instance->host->base->now_ms(session->instance->host->base->ctx);

    correlation_id = session->next_correlation_id++;
    slot = push_slot(session, REPLY_PUBLISH, correlation_id, 1);
    if (slot == NULL) {
        buf_free(&body);
        return FERRY_E_NO_MEMORY;
    }
    /* publish() copies what it keeps, so the body can be freed as soon as it returns. */
    status = session->instance->host->publish(session->conn, correlation_id, queue.data, queue.len, &message, 0);
    buf_free(&body);
    return finish_async(session, slot, status);
}

static ferry_status cmd_subscribe(ferry_session *session, const char *cursor, const char *end)
{
    const text_span queue = next_token(&cursor, end);
    const text_span prefetch_token = next_token(&cursor, end);
    ferry_subscribe_options options;
    uint64_t subscription_id = 0;
    uint32_t prefetch;
    ferry_status status;
    line_buf line = {NULL, 0, 0};
    if (queue.len == 0 || parse_optional_u32(prefetch_token, 0, &prefetch) != 0 || next_token(&cursor, end).len != 0)
        return reply_error(session, FERRY_E_INVALID_ARGUMENT, "usage: SUB <queue> [prefetch]");
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    options.queue = queue.data;
    options.queue_len = queue.len;
    options.prefetch = prefetch;
    options.flags = 0; /* explicit acks */
    status = session->instance->host->subscribe(session->conn, &options, &subscription_id);
    if (status != FERRY_OK)
        return reply_error(session, status, NULL);
    status = FERRY_OK;
    if (buf_append_str(&line, "OK ") != 0 || buf_append_u64(&line, subscription_id) != 0 ||
        buf_append(&line, "\n", 1) != 0 || emit(session, &line, 1) != 0)
        status = FERRY_E_NO_MEMORY;
    buf_free(&line);
    return status;
}

static ferry_status cmd_unsubscribe(ferry_session *session, const char *cursor, const char *end)
{
    uint64_t subscription_id;
    ferry_status status;
    size_t i;
    if (parse_u64(next_token(&cursor, end), &subscription_id) != 0 || next_token(&cursor, end).len != 0)
        return reply_error(session, FERRY_E_INVALID_ARGUMENT, "usage: UNSUB <subscription>");
    status = session->instance->host->unsubscribe(session->conn, subscription_id);
    if (status != FERRY_OK)
        return reply_error(session, status, NULL);
    /* The kernel puts the subscription's unacked deliveries back; their numbers mean nothing any more. */
    for (i = 0; i < session->tag_count; ++i)
        if (session->tags[i].subscription_id == subscription_id)
            retire_tag(session, &session->tags[i]);
    return reply_line(session, "OK");
}

static ferry_status cmd_ack(ferry_session *session, const char *cursor, const char *end, int is_nack)
{
    const char *usage = is_nack ? "usage: NACK <n> [requeue]" : "usage: ACK <n>";
    const text_span number_token = next_token(&cursor, end);
    const text_span option = next_token(&cursor, end);
    uint64_t number;
    uint32_t flags = 0;
    delivery_tag *tag;
    ferry_status status;
    if (parse_u64(number_token, &number) != 0 || next_token(&cursor, end).len != 0)
        return reply_error(session, FERRY_E_INVALID_ARGUMENT, usage);
    if (option.len != 0) {
        if (!is_nack || !token_equals(option, "REQUEUE"))
            return reply_error(session, FERRY_E_INVALID_ARGUMENT, usage);
        flags |= FERRY_ACK_REQUEUE;
    }
    tag = find_tag(session, number);
    if (tag == NULL)
        return reply_error(session, FERRY_E_NOT_FOUND, "no unacked delivery with that number");
    status = is_nack ? session->instance->host->nack(session->conn, tag->subscription_id, tag->offset, flags)
                     : session->instance->host->ack(session->conn, tag->subscription_id, tag->offset, flags);
    if (status != FERRY_OK)
        return reply_error(session, status, NULL);
    retire_tag(session, tag);
    return reply_line(session, "OK");
}

static ferry_status cmd_pull(ferry_session *session, const char *cursor, const char *end)
{
    const text_span queue = next_token(&cursor, end);
    const text_span group = next_token(&cursor, end);
    const text_span max_token = next_token(&cursor, end);
    uint32_t max_messages;
    uint64_t correlation_id;
    reply_slot *slot;
    if (queue.len == 0 || group.len == 0 || parse_optional_u32(max_token, LINE_DEFAULT_PULL_MAX, &max_messages) != 0 ||
        max_messages == 0 || max_messages > LINE_MAX_PULL_MAX || next_token(&cursor, end).len != 0)
        return reply_error(session, FERRY_E_INVALID_ARGUMENT, "usage: PULL <queue> <group> [max 1..4096]");
    correlation_id = session->next_correlation_id++;
    slot = push_slot(session, REPLY_PULL, correlation_id, 1);
    if (slot == NULL)
        return FERRY_E_NO_MEMORY;
    /* wait_ms 0: answer at once, END even when nothing is there (no long poll for an interactive protocol). */
    return finish_async(session, slot,
                        session->instance->host->pull(session->conn, correlation_id, queue.data, queue.len,
                                                      group.data, group.len, FERRY_OFFSET_COMMITTED, max_messages,
                                                      0));
}

static ferry_status cmd_commit(ferry_session *session, const char *cursor, const char *end)
{
    const text_span queue = next_token(&cursor, end);
    const text_span group = next_token(&cursor, end);
    uint64_t offset;
    uint64_t correlation_id;
    reply_slot *slot;
    if (queue.len == 0 || group.len == 0 || parse_u64(next_token(&cursor, end), &offset) != 0 ||
        next_token(&cursor, end).len != 0)
        return reply_error(session, FERRY_E_INVALID_ARGUMENT, "usage: COMMIT <queue> <group> <offset>");
    correlation_id = session->next_correlation_id++;
    slot = push_slot(session, REPLY_COMMIT, correlation_id, 1);
    if (slot == NULL)
        return FERRY_E_NO_MEMORY;
    return finish_async(session, slot,
                        session->instance->host->commit_offset(session->conn, correlation_id, queue.data, queue.len,
                                                               group.data, group.len, offset));
}

static ferry_status cmd_quit(ferry_session *session)
{
    reply_slot *slot = push_slot(session, REPLY_READY, 0, 1);
    if (slot == NULL || buf_append_str(&slot->text, "BYE\n") != 0)
        return FERRY_E_NO_MEMORY;
    slot->close_after = 1;
    session->quitting = 1;
    flush_replies(session);
    return FERRY_OK;
}

/* Runs one command line (already validated, without its line ending). */
static ferry_status handle_line(ferry_session *session, const char *line, size_t len)
{
    const char *cursor = line;
    const char *end = line + len;
    const text_span command = next_token(&cursor, end);
    if (command.len == 0)
        return FERRY_OK; /* blank lines are ignored */
    if (session->commands_in_flight >= LINE_MAX_COMMANDS_IN_FLIGHT) {
        line_buf text = {NULL, 0, 0};
        if (append_error_line(&text, FERRY_E_BUSY, "too many commands in flight", 27) == 0)
            write_bytes(session, text.data, text.len);
        buf_free(&text);
        return FERRY_E_BUSY;
    }
    if (token_equals(command, "DECLARE"))
        return cmd_declare(session, cursor, end);
    if (token_equals(command, "PUB"))
        return cmd_publish(session, cursor, end);
    if (token_equals(command, "SUB"))
        return cmd_subscribe(session, cursor, end);
    if (token_equals(command, "UNSUB"))
        return cmd_unsubscribe(session, cursor, end);
    if (token_equals(command, "ACK"))
        return cmd_ack(session, cursor, end, 0);
    if (token_equals(command, "NACK"))
        return cmd_ack(session, cursor, end, 1);
    if (token_equals(command, "PULL"))
        return cmd_pull(session, cursor, end);
    if (token_equals(command, "COMMIT"))
        return cmd_commit(session, cursor, end);
    if (token_equals(command, "QUIT"))
        return cmd_quit(session);
    return reply_error(session, FERRY_E_UNSUPPORTED,
                       "unknown command (DECLARE PUB SUB UNSUB ACK NACK PULL COMMIT QUIT)");
}

/* ==== Hooks ==================================================================================================== */

static ferry_status line_init(const ferry_protocol_host *host, ferry_protocol **instance_out, char *err,
                              size_t err_cap)
{
    char value[32];
    size_t value_len = 0;
    char *parse_end = NULL;
    unsigned long max_line;
    ferry_protocol *instance;

    /* The kernel refuses plugins built against a newer ABI minor, so its tables are at least as large as ours;
       still check every service this plugin calls, and fail with a message rather than crash. */
    if (host == NULL || host->struct_size < sizeof(ferry_protocol_host) || host->base == NULL ||
        host->write == NULL || host->close == NULL || host->queue_declare == NULL || host->publish == NULL ||
        host->subscribe == NULL || host->unsubscribe == NULL || host->ack == NULL || host->nack == NULL ||
        host->pull == NULL || host->commit_offset == NULL || host->base->log == NULL ||
        host->base->config_get == NULL || host->base->now_ms == NULL) {
        snprintf(err, err_cap, "line: the kernel's protocol host table lacks a service this plugin needs");
        return FERRY_E_ABI_MISMATCH;
    }

    if (host->base->config_get(host->base->ctx, "max_line_bytes", value, sizeof value, &value_len) != FERRY_OK) {
        snprintf(err, err_cap, "line.max_line_bytes: cannot read the value");
        return FERRY_E_CONFIG;
    }
    max_line = strtoul(value, &parse_end, 10);
    if (value[0] < '0' || value[0] > '9' || parse_end == NULL || *parse_end != '\0' ||
        max_line < LINE_MIN_MAX_LINE_BYTES || max_line > LINE_MAX_MAX_LINE_BYTES) {
        snprintf(err, err_cap, "line.max_line_bytes: \"%s\" is not a number in %u..%u", value,
                 LINE_MIN_MAX_LINE_BYTES, LINE_MAX_MAX_LINE_BYTES);
        return FERRY_E_CONFIG;
    }

    instance = (ferry_protocol *)calloc(1, sizeof *instance);
    if (instance == NULL) {
        snprintf(err, err_cap, "line: out of memory");
        return FERRY_E_NO_MEMORY;
    }
    instance->host = host;
    instance->max_line_bytes = (size_t)max_line;
    snprintf(value, sizeof value, "max_line_bytes=%lu", max_line);
    log_text(instance, FERRY_LOG_DEBUG, value);
    *instance_out = instance;
    return FERRY_OK;
}

static ferry_status line_on_open(ferry_protocol *instance, ferry_conn *conn, uint32_t listener_index,
                                 ferry_session **session_out)
{
    ferry_session *session = (ferry_session *)calloc(1, sizeof *session);
    (void)listener_index; /* one listener only */
    if (session == NULL)
        return FERRY_E_NO_MEMORY;
    session->instance = instance;
    session->conn = conn;
    session->next_correlation_id = 1; /* 0 would mean "no result wanted" */
    session->next_tag_number = 1;
    *session_out = session;
    return FERRY_OK;
}

/* Reports a framing violation: ERR after whatever replies are already complete, then FERRY_E_PROTOCOL. */
static ferry_status protocol_error(ferry_session *session, const char *reason)
{
    line_buf text = {NULL, 0, 0};
    flush_replies(session);
    if (append_error_line(&text, FERRY_E_PROTOCOL, reason, strlen(reason)) == 0)
        write_bytes(session, text.data, text.len);
    buf_free(&text);
    log_text(session->instance, FERRY_LOG_INFO, reason);
    return FERRY_E_PROTOCOL;
}

static ferry_status line_on_read(ferry_session *session, const uint8_t *data, size_t len, size_t *consumed)
{
    const size_t max_line = session->instance->max_line_bytes;
    size_t pos = 0;
    *consumed = 0;
    if (session->quitting || session->closed) {
        *consumed = len; /* nothing after QUIT is looked at */
        return FERRY_OK;
    }
    /* The kernel offers the same unconsumed bytes again with more appended, so what was searched stays searched. */
    if (session->scanned > len)
        session->scanned = 0;
    while (pos < len && !session->quitting && !session->closed) {
        const size_t search_from = pos + session->scanned;
        const uint8_t *newline = (const uint8_t *)memchr(data + search_from, '\n', len - search_from);
        size_t line_end, line_len;
        char reason[96];
        ferry_status status;
        if (newline == NULL) {
            /* A partial line: more than max_line bytes plus room for "\r" can never become a valid line. */
            if (len - pos > max_line + 1) {
                snprintf(reason, sizeof reason, "line longer than %lu bytes", (unsigned long)max_line);
                *consumed = len;
                return protocol_error(session, reason);
            }
            session->scanned = len - pos;
            break;
        }
        session->scanned = 0;
        line_end = (size_t)(newline - data);
        line_len = line_end - pos;
        if (line_len > 0 && data[line_end - 1] == '\r')
            --line_len;
        if (line_len > max_line) {
            snprintf(reason, sizeof reason, "line longer than %lu bytes", (unsigned long)max_line);
            *consumed = len;
            return protocol_error(session, reason);
        }
        if (validate_line(data + pos, line_len, reason, sizeof reason) != 0) {
            *consumed = len;
            return protocol_error(session, reason);
        }
        status = handle_line(session, (const char *)data + pos, line_len);
        pos = line_end + 1;
        if (status != FERRY_OK) {
            *consumed = pos;
            return status;
        }
    }
    *consumed = (session->quitting || session->closed) ? len : pos;
    flush_replies(session);
    return FERRY_OK;
}

/* Appends "MSG <n> <queue> <offset> <redelivered> <text>\n". */
static int append_message_line(line_buf *out, uint64_t number, const ferry_delivery *delivery)
{
    const ferry_message *message = delivery->message;
    if (buf_append_str(out, "MSG ") != 0 || buf_append_u64(out, number) != 0 || buf_append(out, " ", 1) != 0 ||
        append_escaped(out, (const uint8_t *)delivery->queue, delivery->queue_len) != 0 ||
        buf_append(out, " ", 1) != 0 || buf_append_u64(out, delivery->offset) != 0 ||
        buf_append_str(out, (delivery->flags & FERRY_DELIVERY_REDELIVERED) ? " 1 " : " 0 ") != 0)
        return -1;
    if (message != NULL && append_escaped(out, message->body, message->body_len) != 0)
        return -1;
    return buf_append(out, "\n", 1);
}

static void line_on_delivery(ferry_session *session, const ferry_delivery *delivery)
{
    if (session->closed)
        return; /* the kernel puts unacked deliveries back when the connection closes */
    if (delivery->subscription_id == 0) {
        /* A message returned by PULL: it belongs inside that command's reply, before END. Number 0: not ackable,
           cursor reads are acknowledged by COMMIT. */
        reply_slot *slot = find_slot(session, delivery->correlation_id);
        if (slot == NULL || slot->waiting_for != REPLY_PULL)
            return;
        if (append_message_line(&slot->text, 0, delivery) != 0)
            close_connection(session, "line: out of memory");
        return;
    } else {
        line_buf line = {NULL, 0, 0};
        const uint64_t number = add_tag(session, delivery->subscription_id, delivery->offset);
        if (number == 0 || append_message_line(&line, number, delivery) != 0 || emit(session, &line, 0) != 0)
            close_connection(session, "line: out of memory");
        buf_free(&line);
    }
}

static void line_on_result(ferry_session *session, const ferry_result *result)
{
    reply_slot *slot = find_slot(session, result->correlation_id);
    int failed;
    if (slot == NULL)
        return; /* not ours, or the session is past QUIT and the slot is gone */
    if (result->status != FERRY_OK) {
        failed = append_error_line(&slot->text, result->status, result->text, result->text != NULL ? result->text_len : 0);
    } else {
        switch (slot->waiting_for) {
        case REPLY_DECLARE:
            failed = buf_append_str(&slot->text, "OK ") || buf_append_u64(&slot->text, result->message_count) ||
                     buf_append(&slot->text, " ", 1) || buf_append_u64(&slot->text, result->consumer_count) ||
                     buf_append(&slot->text, "\n", 1);
            break;
        case REPLY_PUBLISH:
            failed = buf_append_str(&slot->text, "OK ") || buf_append_u64(&slot->text, result->offset) ||
                     buf_append(&slot->text, "\n", 1);
            break;
        case REPLY_PULL:
            failed = buf_append_str(&slot->text, "END ") || buf_append_u64(&slot->text, result->offset) ||
                     buf_append(&slot->text, "\n", 1);
            break;
        default: /* REPLY_COMMIT */
            failed = buf_append_str(&slot->text, "OK\n");
            break;
        }
    }
    slot->waiting_for = REPLY_READY;
    slot->correlation_id = 0;
    if (failed)
        close_connection(session, "line: out of memory");
    flush_replies(session);
}

static void line_on_timer(ferry_session *session, uint64_t timer_id)
{
    (void)session; /* this plugin sets no timers */
    (void)timer_id;
}

static void line_on_close(ferry_session *session, int32_t reason)
{
    (void)reason;
    while (session->head != NULL) {
        reply_slot *slot = session->head;
        session->head = slot->next;
        free_slot(session, slot);
    }
    free(session->tags);
    free(session);
}

static void line_shutdown(ferry_protocol *instance)
{
    free(instance);
}

/* ==== Entry point ============================================================================================== */

/* Designated initializers: members added by later ABI minors (hooks this plugin does not use) stay NULL. */
static const ferry_protocol_vtable line_vtable = {
    .struct_size = sizeof(ferry_protocol_vtable),
    .listeners = line_listeners,
    .listener_count = sizeof line_listeners / sizeof line_listeners[0],
    .init = line_init,
    .on_open = line_on_open,
    .on_read = line_on_read,
    .on_delivery = line_on_delivery,
    .on_result = line_on_result,
    .on_timer = line_on_timer,
    .on_close = line_on_close,
    .shutdown = line_shutdown,
};

static const ferry_plugin_descriptor line_descriptor = {
    sizeof(ferry_plugin_descriptor),
    FERRY_ABI_MAJOR,
    FERRY_ABI_MINOR,
    FERRY_PLUGIN_KIND_PROTOCOL,
    LINE_PLUGIN_NAME,
    LINE_PLUGIN_VERSION,
    "MIT-0",
    "example text protocol, one command per line (DECLARE PUB SUB ACK NACK PULL COMMIT QUIT)",
    line_config_keys,
    sizeof line_config_keys / sizeof line_config_keys[0],
    &line_vtable,
};

FERRY_PLUGIN_ENTRY
{
    if (host == NULL || descriptor_out == NULL) {
        snprintf(err, err_cap, "line: ferry_plugin_query called without host or descriptor_out");
        return FERRY_E_INVALID_ARGUMENT;
    }
    if (host->abi_major != FERRY_ABI_MAJOR) {
        snprintf(err, err_cap, "line: built for Ferry plugin ABI %d.%d, the kernel speaks %u.%u", FERRY_ABI_MAJOR,
                 FERRY_ABI_MINOR, (unsigned)host->abi_major, (unsigned)host->abi_minor);
        return FERRY_E_ABI_MISMATCH;
    }
    *descriptor_out = &line_descriptor;
    return FERRY_OK;
}
