# Run by CTest (examples.sdk_build_example): installs the SDK component of the current Ferry build into a fresh
# prefix, checks its layout, then builds, as a third party would, (1) the installed copy of the example plugin with
# clang in C99 and (2) a small C++ plugin using <ferry/sdk.hpp>, both against that prefix only. Fails (FATAL_ERROR)
# on the first thing that is wrong. The other examples.* tests load the example as installed by its own install rule,
# from WORK_DIR/plugin-prefix/lib/ferry/plugins/v1/.
#
# Inputs (-D): FERRY_BUILD_DIR, WORK_DIR, C_COMPILER, CXX_COMPILER, GENERATOR, MAKE_PROGRAM (may be empty),
#              MODULE_SUFFIX (e.g. ".so"), PROBE_SOURCE_DIR
cmake_minimum_required(VERSION 3.25)

foreach(var FERRY_BUILD_DIR WORK_DIR C_COMPILER CXX_COMPILER GENERATOR MODULE_SUFFIX PROBE_SOURCE_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "build_example_with_sdk.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(example_src ${WORK_DIR}/line-protocol-src)
set(example_build ${WORK_DIR}/build)
set(probe_build ${WORK_DIR}/cxx-probe-build)
set(plugin_prefix ${WORK_DIR}/plugin-prefix)

function(run_checked what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# 1. Install the SDK component only.
run_checked("install the sdk component"
  ${CMAKE_COMMAND} --install ${FERRY_BUILD_DIR} --component sdk --prefix ${prefix})

# 2. The layout a plugin author relies on.
foreach(file
    include/ferry/ferry_plugin.h include/ferry/ferry_protocol.h include/ferry/ferry_storage.h include/ferry/sdk.hpp
    share/ferry/sdk/plugin-author-guide.md
    share/ferry/sdk/examples/README.md
    share/ferry/sdk/examples/line-protocol/CMakeLists.txt
    share/ferry/sdk/examples/line-protocol/line_protocol.c
    share/ferry/sdk/examples/line-protocol/README.md)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "the sdk install lacks ${file}")
  endif()
endforeach()
file(GLOB_RECURSE config_files ${prefix}/*/FerryPluginSDKConfig.cmake)
file(GLOB_RECURSE version_files ${prefix}/*/FerryPluginSDKConfigVersion.cmake)
file(GLOB_RECURSE function_files ${prefix}/*/FerryPluginSDKFunctions.cmake)
list(LENGTH config_files n_config)
list(LENGTH version_files n_version)
list(LENGTH function_files n_functions)
if(NOT n_config EQUAL 1 OR NOT n_version EQUAL 1 OR NOT n_functions EQUAL 1)
  message(FATAL_ERROR "expected one FerryPluginSDK config, version and functions file, found: "
                      "${config_files} | ${version_files} | ${function_files}")
endif()
if(NOT config_files MATCHES "/cmake/FerryPluginSDK/FerryPluginSDKConfig.cmake$")
  message(FATAL_ERROR "the package config is not in <libdir>/cmake/FerryPluginSDK/: ${config_files}")
endif()
# Nothing but the SDK: no programs, no libraries, no plugins.
file(GLOB_RECURSE binaries ${prefix}/*${MODULE_SUFFIX} ${prefix}/*.a ${prefix}/*.lib ${prefix}/bin/*)
if(binaries)
  message(FATAL_ERROR "the sdk component installs binaries: ${binaries}")
endif()

# 3. The example, from a copy of the installed source (an outsider has nothing else), with clang and -Werror.
file(COPY ${prefix}/share/ferry/sdk/examples/line-protocol/ DESTINATION ${example_src})
set(no_other_packages
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
set(generator_args -G ${GENERATOR})
if(MAKE_PROGRAM)
  list(APPEND generator_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
run_checked("configure the example with ${C_COMPILER}"
  ${CMAKE_COMMAND} -E env CC=${C_COMPILER}
  ${CMAKE_COMMAND} -S ${example_src} -B ${example_build} ${generator_args} -DCMAKE_BUILD_TYPE=Debug
    -DCMAKE_PREFIX_PATH=${prefix} -DLINE_PROTOCOL_WERROR=ON -DCMAKE_INSTALL_PREFIX=${plugin_prefix}
    -DCMAKE_INSTALL_LIBDIR=lib ${no_other_packages})
file(STRINGS ${example_build}/CMakeCache.txt sdk_dir_line REGEX "^FerryPluginSDK_DIR:")
file(REAL_PATH ${prefix} real_prefix)
string(REGEX REPLACE "^FerryPluginSDK_DIR:[A-Z]+=" "" sdk_dir "${sdk_dir_line}")
file(REAL_PATH "${sdk_dir}" real_sdk_dir)
string(FIND "${real_sdk_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "the example found FerryPluginSDK outside the installed prefix: ${sdk_dir}")
endif()
file(STRINGS ${example_build}/CMakeCache.txt compiler_line REGEX "^CMAKE_C_COMPILER:")
file(REAL_PATH "${C_COMPILER}" real_c_compiler)
string(REGEX REPLACE "^CMAKE_C_COMPILER:[A-Z]+=" "" used_compiler "${compiler_line}")
file(REAL_PATH "${used_compiler}" real_used_compiler)
if(NOT real_used_compiler STREQUAL real_c_compiler)
  message(FATAL_ERROR "the example was configured with ${used_compiler}, not ${C_COMPILER}")
endif()
run_checked("build the example" ${CMAKE_COMMAND} --build ${example_build} --config Debug)
# Its install rule (from ferry_sdk_add_plugin) puts it, alone, in <libdir>/ferry/plugins/v1: the directory the
# e2e test gives the broker, which loads every file it finds there.
run_checked("install the example" ${CMAKE_COMMAND} --install ${example_build} --config Debug)
set(example_module ${plugin_prefix}/lib/ferry/plugins/v1/line-protocol${MODULE_SUFFIX})
file(GLOB installed_plugins RELATIVE ${plugin_prefix} ${plugin_prefix}/*/*/*/*/*)
if(NOT installed_plugins STREQUAL "lib/ferry/plugins/v1/line-protocol${MODULE_SUFFIX}")
  message(FATAL_ERROR "the example installed [${installed_plugins}], "
                      "expected lib/ferry/plugins/v1/line-protocol${MODULE_SUFFIX} alone")
endif()
file(SIZE ${example_module} module_size)
if(module_size LESS 1024)
  message(FATAL_ERROR "${example_module} is only ${module_size} bytes")
endif()

# 4. A C++ plugin over <ferry/sdk.hpp>, and the package's version check (an ABI major it is not must be refused).
run_checked("configure the C++ probe"
  ${CMAKE_COMMAND} -E env CXX=${CXX_COMPILER}
  ${CMAKE_COMMAND} -S ${PROBE_SOURCE_DIR} -B ${probe_build} ${generator_args} -DCMAKE_BUILD_TYPE=Debug
    -DCMAKE_PREFIX_PATH=${prefix} ${no_other_packages})
run_checked("build the C++ probe" ${CMAKE_COMMAND} --build ${probe_build} --config Debug)
file(GLOB_RECURSE probe_modules ${probe_build}/sdk-cxx-probe${MODULE_SUFFIX})
if(NOT probe_modules)
  message(FATAL_ERROR "the C++ probe build did not produce sdk-cxx-probe${MODULE_SUFFIX}")
endif()
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${PROBE_SOURCE_DIR} -B ${WORK_DIR}/probe-wrong-abi ${generator_args}
    -DCMAKE_PREFIX_PATH=${prefix} -DPROBE_REQUIRED_ABI=999.0 ${no_other_packages}
  RESULT_VARIABLE wrong_abi_rc OUTPUT_QUIET ERROR_VARIABLE wrong_abi_err)
if(wrong_abi_rc EQUAL 0 OR NOT wrong_abi_err MATCHES "FerryPluginSDK")
  message(FATAL_ERROR "find_package(FerryPluginSDK 999.0) was not refused (${wrong_abi_rc}): ${wrong_abi_err}")
endif()
message(STATUS "find_package(FerryPluginSDK 999.0) refused: ok")

message(STATUS "example plugin: ${example_module}")
