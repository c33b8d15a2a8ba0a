/*
 * Support for the deliberately broken (and the two good) test plugins of tst_plugin_host.
 * Each plugin fills its static descriptor and vtable inside ferry_plugin_query from these helpers, then breaks the
 * one thing its test is about. Plain C99, linked into every test plugin (test_plugin_support.c).
 */
#ifndef FERRY_TEST_PLUGIN_SUPPORT_H
#define FERRY_TEST_PLUGIN_SUPPORT_H

#include <ferry/ferry_plugin.h>
#include <ferry/ferry_protocol.h>
#include <ferry/ferry_storage.h>

/* Every member set to a stub that returns FERRY_E_UNSUPPORTED (or does nothing); optional members included. */
void test_fill_storage_vtable(ferry_storage_vtable *vtable);
void test_fill_protocol_vtable(ferry_protocol_vtable *vtable);

/* A valid descriptor of the current ABI with no config keys. */
void test_fill_descriptor(ferry_plugin_descriptor *descriptor, int32_t kind, const char *name, const void *vtable);

/* Copies text into (err, err_cap) the way the ABI requires (NUL-terminated, truncated). */
void test_write_error(char *err, size_t err_cap, const char *text);

#endif
