// DeadLetterHeaders: the kernel's dead-letter history as RabbitMQ's headers. The kernel's Router keeps the history in
// the message's property block (broker/kernel/route/Router.h): one "$ferry.death" entry per (queue, reason), newest
// first, each a nested block with reason, queue, exchange, routing-key, time (seconds), count and, when the message
// had its own TTL, original-expiration; and one "$ferry.first-death" with reason, queue and exchange. On delivery
// the AMQP plugin renders them as the x-death array of tables and the x-first-death-reason / -queue / -exchange
// headers, and drops the expiration property (RabbitMQ removes it from dead-lettered copies).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::amqp {

// True when the block carries a history; then *rendered holds the basic properties to deliver: rawProperties (the
// publisher's, possibly empty) with the headers above set (replacing any the publisher sent under those names) and
// without expiration. False, and *rendered untouched, for a message that was never dead-lettered.
bool renderDeadLetterHeaders(std::string_view rawProperties, const uint8_t *block, size_t blockLen,
                             std::string *rendered);

} // namespace ferry::amqp
