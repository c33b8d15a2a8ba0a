// CrossProtocol: how an AMQP message maps onto the kernel's protocol-neutral message and back, so that RocketMQ
// clients (and any other protocol) see AMQP messages and the reverse. docs/compatibility/cross-protocol.md is the
// table; tests/amqp/cross_protocol.test.js checks it field by field with amqplib and ali-ons.
//
// Publish (AMQP -> kernel): body as is; routing key -> routing_key (RocketMQ reads it as the tag when the message has
// none); message-id -> keys; content-type -> property "content-type"; every header with a string, integer, boolean
// or void value -> a property of that name (its text); the basic properties as published -> private property
// "$amqp.props", which AMQP deliveries use unchanged. Header names starting with '$' stay AMQP-only.
// Delivery of another protocol's message (no "$amqp.props"): routing key <- routing_key or else tag;
// message-id <- the first of keys, or else the kernel's message id (32 hex digits); content-type <- property "content-type"; delivery-mode 2 when persistent;
// timestamp <- born time (seconds); headers <- every other non-private property as a long string, with RocketMQ's
// UNIQ_KEY as "x-rocketmq-msg-id".
#pragma once

#include "codec/Codec.h"

#include <ferry/ferry_protocol.h>

#include <string>
#include <string_view>

namespace ferry::amqp {

// The private property holding the publisher's basic properties.
inline constexpr std::string_view kRawPropertiesKey = "$amqp.props";

// The property block of an AMQP publish: "$amqp.props" (rawProperties), then the neutral properties.
std::string publishPropertyBlock(std::string_view rawProperties, const BasicProperties &props);

// A header value as the text the kernel compares (headers exchanges) and other protocols see. False for tables,
// arrays and the other types that have no text form (they stay AMQP-only).
bool headerValueText(const FieldValueView &value, std::string *out);

// Basic properties (encoded) for delivering a message another protocol published.
std::string foreignBasicProperties(const ferry_message &message);

} // namespace ferry::amqp
