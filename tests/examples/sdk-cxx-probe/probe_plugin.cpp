// A storage-kind descriptor with a guarded entry point: compiles only if the installed headers and sdk.hpp are
// complete and agree with the ABI variables the CMake package reports. Never loaded by a broker.
#include <ferry/ferry_storage.h>
#include <ferry/sdk.hpp>

static_assert(FERRY_ABI_MAJOR == PROBE_ABI_MAJOR, "CMake package and header disagree on the ABI major");
static_assert(FERRY_ABI_MINOR == PROBE_ABI_MINOR, "CMake package and header disagree on the ABI minor");

namespace {
ferry_storage_vtable make_vtable()
{
    ferry_storage_vtable vtable{};
    vtable.struct_size = sizeof vtable;
    return vtable;
}
const ferry_storage_vtable probe_vtable = make_vtable();
ferry_plugin_descriptor probe_descriptor = {sizeof(ferry_plugin_descriptor), FERRY_ABI_MAJOR, FERRY_ABI_MINOR,
                                            FERRY_PLUGIN_KIND_STORAGE, "sdk-cxx-probe", "0", "MIT-0",
                                            "build probe", nullptr, 0, &probe_vtable};
} // namespace

FERRY_PLUGIN_ENTRY
{
    return ferry::sdk::guard(err, err_cap, [&]() -> ferry_status {
        if (host == nullptr || host->abi_major != FERRY_ABI_MAJOR)
            throw ferry::sdk::Error(FERRY_E_ABI_MISMATCH, "probe: wrong ABI");
        *descriptor_out = &probe_descriptor;
        return FERRY_OK;
    });
}
