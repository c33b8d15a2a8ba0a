# packaging.sdk_standalone (cmake -P): the "sdk" component of this build is all a plugin author needs.
#   1. installs the component into a temporary directory outside the Ferry source and build trees, then moves the
#      installed tree elsewhere (the package must be relocatable);
#   2. checks the package layout, and that no installed file names the source tree, the build tree or the first
#      install location;
#   3. configures and builds the installed copy of the example plugin in a fresh build directory with
#      find_package(FerryPluginSDK) and CMAKE_PREFIX_PATH=<sdk> only, and proves that nothing in that build (the
#      package found, every compile command, every header the compiler read, the generated build files) points into
#      the Ferry source or build tree;
#   4. installs the plugin with its own install rule and runs this build's ferry-broker --list-plugins on that
#      directory alone: the plugin must load (nothing refused) as protocol "line" with the ABI of the SDK headers,
#      which must also be the broker's.
# Fails (FATAL_ERROR) on the first thing that is wrong, and then keeps the temporary directory for a look.
#
# Inputs (-D): FERRY_SOURCE_DIR, FERRY_BUILD_DIR, BROKER, GENERATOR, MAKE_PROGRAM (may be empty), C_COMPILER,
#              MODULE_SUFFIX (e.g. ".so"), TEMP_ROOT (optional: where the temporary directory goes; default
#              $TMPDIR, else $TEMP, else /tmp)
cmake_minimum_required(VERSION 3.25)

if(NOT TEMP_ROOT)
  foreach(candidate "$ENV{TMPDIR}" "$ENV{TEMP}" /tmp)
    if(candidate AND IS_DIRECTORY "${candidate}")
      set(TEMP_ROOT "${candidate}")
      break()
    endif()
  endforeach()
endif()
foreach(var FERRY_SOURCE_DIR FERRY_BUILD_DIR BROKER GENERATOR C_COMPILER MODULE_SUFFIX TEMP_ROOT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "sdk_standalone.cmake: -D${var}=... is required")
  endif()
endforeach()

file(REAL_PATH "${FERRY_SOURCE_DIR}" source_dir)
file(REAL_PATH "${FERRY_BUILD_DIR}" build_dir)
file(REAL_PATH "${TEMP_ROOT}" temp_root)
string(RANDOM LENGTH 10 ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789" nonce)
set(work "${temp_root}/ferry-sdk-standalone-${nonce}")
set(staging "${work}/staging")      # where `cmake --install` puts the SDK
set(sdk "${work}/sdk")              # where it is used from, after the move
set(example_build "${work}/example-build")
set(plugin_prefix "${work}/plugin-prefix")
set(plugin_dir "${plugin_prefix}/lib/ferry/plugins/v1")
set(data_dir "${work}/broker-data")

macro(fail)
  message(FATAL_ERROR ${ARGN} "\n(kept ${work})")
endmacro()

# Arguments: a description, then the command. Output in run_out/run_err.
function(run_checked what)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${work}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    fail("${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
  set(run_out "${out}" PARENT_SCOPE)
  set(run_err "${err}" PARENT_SCOPE)
endfunction()

# Fails when TEXT names the Ferry source or build tree; WHAT says where TEXT came from.
function(check_no_ferry_tree what text)
  foreach(tree "${source_dir}" "${build_dir}")
    string(FIND "${text}" "${tree}/" at)
    if(NOT at EQUAL -1)
      string(SUBSTRING "${text}" ${at} 200 excerpt)
      fail("${what} points into the Ferry tree ${tree}: ...${excerpt}")
    endif()
  endforeach()
endfunction()

foreach(tree "${source_dir}" "${build_dir}")
  string(FIND "${work}/" "${tree}/" at)
  if(at EQUAL 0)
    message(FATAL_ERROR "TEMP_ROOT ${temp_root} is inside ${tree}: the isolation checks would prove nothing")
  endif()
endforeach()
file(MAKE_DIRECTORY "${work}")

# 1. Install, then move: every path the package uses must come from where it is found.
run_checked("install the sdk component" ${CMAKE_COMMAND} --install "${build_dir}" --component sdk --prefix "${staging}")
file(RENAME "${staging}" "${sdk}")

# 2. The layout, and no installed file naming a tree it must not need.
file(GLOB config_files "${sdk}/*/cmake/FerryPluginSDK/FerryPluginSDKConfig.cmake")
file(GLOB version_files "${sdk}/*/cmake/FerryPluginSDK/FerryPluginSDKConfigVersion.cmake")
list(LENGTH config_files n_config)
list(LENGTH version_files n_version)
if(NOT n_config EQUAL 1 OR NOT n_version EQUAL 1)
  fail("expected one <libdir>/cmake/FerryPluginSDK/ with FerryPluginSDKConfig.cmake and "
       "FerryPluginSDKConfigVersion.cmake, found: [${config_files}] [${version_files}]")
endif()
set(example_source "${sdk}/share/ferry/sdk/examples/line-protocol")
foreach(file include/ferry/ferry_plugin.h include/ferry/ferry_protocol.h include/ferry/ferry_storage.h
             include/ferry/sdk.hpp share/ferry/sdk/plugin-author-guide.md
             share/ferry/sdk/examples/line-protocol/CMakeLists.txt share/ferry/sdk/examples/line-protocol/line_protocol.c)
  if(NOT EXISTS "${sdk}/${file}")
    fail("the sdk install lacks ${file}")
  endif()
endforeach()
file(READ "${example_source}/CMakeLists.txt" example_lists)
if(NOT example_lists MATCHES "find_package\\(FerryPluginSDK[ )]")
  fail("the installed example's CMakeLists.txt does not use find_package(FerryPluginSDK)")
endif()
file(GLOB_RECURSE installed_files "${sdk}/*")
foreach(file IN LISTS installed_files)
  file(READ "${file}" content)
  check_no_ferry_tree("installed ${file}" "${content}")
  string(FIND "${content}" "${staging}" at)
  if(NOT at EQUAL -1)
    fail("installed ${file} names the install location ${staging}: the package is not relocatable")
  endif()
endforeach()

# 3. The example, from the installed copy, in a fresh build directory.
set(generator_args -G "${GENERATOR}")
if(MAKE_PROGRAM)
  list(APPEND generator_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
run_checked("configure the installed example"
  ${CMAKE_COMMAND} -E env --unset=CMAKE_PREFIX_PATH --unset=FerryPluginSDK_DIR --unset=FerryPluginSDK_ROOT
                          "CC=${C_COMPILER}"
  ${CMAKE_COMMAND} -S "${example_source}" -B "${example_build}" ${generator_args} -DCMAKE_BUILD_TYPE=Debug
    "-DCMAKE_PREFIX_PATH=${sdk}" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "-DCMAKE_INSTALL_PREFIX=${plugin_prefix}"
    -DCMAKE_INSTALL_LIBDIR=lib -DLINE_PROTOCOL_WERROR=ON
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)

file(STRINGS "${example_build}/CMakeCache.txt" sdk_dir_line REGEX "^FerryPluginSDK_DIR:")
string(REGEX REPLACE "^FerryPluginSDK_DIR:[A-Z]+=" "" found_sdk_dir "${sdk_dir_line}")
get_filename_component(expected_sdk_dir "${config_files}" DIRECTORY)
file(REAL_PATH "${found_sdk_dir}" found_sdk_dir)
if(NOT found_sdk_dir STREQUAL expected_sdk_dir)
  fail("the example found FerryPluginSDK in '${found_sdk_dir}', not in the installed ${expected_sdk_dir}")
endif()

# Every compile command: its include directories are the SDK's, and nothing names a Ferry tree.
file(READ "${example_build}/compile_commands.json" compile_commands)
string(JSON n_commands LENGTH "${compile_commands}")
if(n_commands EQUAL 0)
  fail("compile_commands.json of the example is empty")
endif()
math(EXPR last_command "${n_commands} - 1")
set(sdk_include_seen FALSE)
foreach(i RANGE ${last_command})
  string(JSON command GET "${compile_commands}" ${i} command)
  check_no_ferry_tree("the compile command '${command}'" "${command}")
  string(REGEX MATCHALL "(-I|-isystem )[^ ]+" include_flags "${command}")
  foreach(flag IN LISTS include_flags)
    string(REGEX REPLACE "^(-I|-isystem )" "" include_dir "${flag}")
    file(REAL_PATH "${include_dir}" include_dir BASE_DIRECTORY "${example_build}")
    if(include_dir STREQUAL "${sdk}/include")
      set(sdk_include_seen TRUE)
    else()
      string(FIND "${include_dir}/" "${example_build}/" in_build)
      if(NOT in_build EQUAL 0)
        fail("the example compiles with the include directory ${include_dir}, neither the SDK's nor its own")
      endif()
    endif()
  endforeach()
endforeach()
if(NOT sdk_include_seen)
  fail("no compile command of the example uses the SDK's include directory ${sdk}/include")
endif()

foreach(generated CMakeCache.txt build.ninja Makefile)
  if(EXISTS "${example_build}/${generated}")
    file(READ "${example_build}/${generated}" content)
    check_no_ferry_tree("the example's ${generated}" "${content}")
  endif()
endforeach()

run_checked("build the installed example" ${CMAKE_COMMAND} --build "${example_build}")

# With Ninja, the headers the compiler actually read: the Ferry ones must all be the SDK's.
if(GENERATOR STREQUAL "Ninja")
  if(MAKE_PROGRAM)
    set(ninja "${MAKE_PROGRAM}")
  else()
    set(ninja ninja)
  endif()
  run_checked("list the headers the example read" "${ninja}" -C "${example_build}" -t deps)
  set(deps "${run_out}")
  check_no_ferry_tree("a header the example read" "${deps}")
  string(REGEX MATCHALL "[^ \n]*/ferry/ferry_[a-z]+\\.h" ferry_headers "${deps}")
  if(NOT ferry_headers)
    fail("ninja -t deps lists no ferry/*.h header for the example:\n${deps}")
  endif()
  foreach(header IN LISTS ferry_headers)
    file(REAL_PATH "${header}" header)
    string(FIND "${header}" "${sdk}/include/ferry/" at)
    if(NOT at EQUAL 0)
      fail("the example read ${header}, which is not the SDK's")
    endif()
  endforeach()
  message(STATUS "every Ferry header the example read is the installed SDK's: ok")
endif()

# 4. Its install rule, then the real broker on that directory alone.
run_checked("install the example" ${CMAKE_COMMAND} --install "${example_build}")
set(module "${plugin_dir}/line-protocol${MODULE_SUFFIX}")
file(GLOB installed_plugins "${plugin_dir}/*")
if(NOT installed_plugins STREQUAL module)
  fail("the example's install rule put [${installed_plugins}] in ${plugin_dir}, expected ${module} alone")
endif()

file(STRINGS "${sdk}/include/ferry/ferry_plugin.h" abi_lines REGEX "^#define FERRY_ABI_(MAJOR|MINOR) +[0-9]+")
foreach(line IN LISTS abi_lines)
  if(line MATCHES "^#define FERRY_ABI_(MAJOR|MINOR) +([0-9]+)")
    set(abi_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
  endif()
endforeach()
if(NOT DEFINED abi_MAJOR OR NOT DEFINED abi_MINOR)
  fail("cannot read FERRY_ABI_MAJOR/MINOR from the installed ferry_plugin.h")
endif()
set(sdk_abi "${abi_MAJOR}.${abi_MINOR}")

set(broker_env ${CMAKE_COMMAND} -E env --unset=FERRY_CONFIG)
run_checked("ferry-broker --version" ${broker_env} "${BROKER}" --version)
if(NOT run_out MATCHES "\\(plugin ABI ${abi_MAJOR}\\.${abi_MINOR}\\)")
  fail("the broker's ABI is not the SDK's ${sdk_abi}: ${run_out}")
endif()
run_checked("ferry-broker --list-plugins" ${broker_env} "${BROKER}" --list-plugins --data-dir "${data_dir}"
  --set "plugins.dirs=${plugin_dir}")
set(listing "${run_out}")
message(STATUS "ferry-broker --list-plugins:\n${listing}")
if(listing MATCHES "refused:")
  fail("the broker refused a plugin:\n${listing}")
endif()
string(REPLACE "\n" ";" listing_lines "${listing}")
list(GET listing_lines 0 header_line)
if(NOT header_line MATCHES "^NAME +KIND +VERSION +ABI +FILE$")
  fail("unexpected --list-plugins header '${header_line}'")
endif()
set(line_rows "")
foreach(row IN LISTS listing_lines)
  if(row MATCHES "^line +")
    list(APPEND line_rows "${row}")
  endif()
endforeach()
list(LENGTH line_rows n_rows)
if(NOT n_rows EQUAL 1)
  fail("expected one 'line' row in --list-plugins, found ${n_rows}:\n${listing}")
endif()
if(NOT line_rows MATCHES "^line +protocol +[0-9][^ ]* +([0-9]+\\.[0-9]+) +(.+)$")
  fail("the 'line' row is not '<name> protocol <version> <abi> <file>': ${line_rows}")
endif()
set(listed_abi "${CMAKE_MATCH_1}")
file(REAL_PATH "${CMAKE_MATCH_2}" listed_file)
if(NOT listed_abi STREQUAL sdk_abi)
  fail("the plugin is listed with ABI ${listed_abi}, the SDK's headers are ${sdk_abi}")
endif()
if(NOT listed_file STREQUAL module)
  fail("the plugin is listed from ${listed_file}, not ${module}")
endif()
if(NOT listing MATCHES "\n\\[line\\]")
  fail("--list-plugins does not print the [line] config section:\n${listing}")
endif()
message(STATUS "the SDK-built example loads in ferry-broker as protocol 'line', ABI ${listed_abi}: ok")

file(REMOVE_RECURSE "${work}")
