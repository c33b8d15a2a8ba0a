# cmake -DINCLUDE_DIR=<real headers> -DWORK_DIR=<scratch dir> -P selftest_abi_hash.cmake
# Checks that the ABI hash check itself works, on scratch copies of the real headers and a scratch versions file
# that records their current hash (so this test does not depend on abi-versions.txt being up to date: abi.hash
# checks that):
#  1. the same headers with CRLF line endings hash the same (a Windows checkout passes);
#  2. a changed header without a version bump fails, and the message says to bump and record;
#  3. a bumped version that is not recorded fails, and the message gives the line to record;
#  4. recording that line makes the check pass again.
include(${CMAKE_CURRENT_LIST_DIR}/AbiHash.cmake)
foreach(var INCLUDE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "selftest_abi_hash.cmake needs -D${var}=...")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/crlf" "${WORK_DIR}/changed" "${WORK_DIR}/bumped")

function(expect_ok dir versions what)
  ferry_abi_check("${dir}" "${versions}" ok text)
  if(NOT ok)
    message(FATAL_ERROR "self-test '${what}': expected the check to pass, it said:\n${text}")
  endif()
  message(STATUS "ok: ${what}")
endfunction()

function(expect_failure dir versions what needle)
  ferry_abi_check("${dir}" "${versions}" ok text)
  string(REPLACE ";" "" text "${text}")
  if(ok)
    message(FATAL_ERROR "self-test '${what}': expected the check to fail, it passed")
  endif()
  string(FIND "${text}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "self-test '${what}': the failure message lacks '${needle}':\n${text}")
  endif()
  message(STATUS "ok: ${what}")
endfunction()

# A versions file recording the real headers' current hash; they pass against it.
ferry_abi_version("${INCLUDE_DIR}" major minor)
ferry_abi_hash("${INCLUDE_DIR}" current_hash)
set(VERSIONS_FILE "${WORK_DIR}/abi-versions-current.txt")
file(WRITE "${VERSIONS_FILE}" "# scratch\n0.9 ${current_hash}\n${major}.${minor} ${current_hash}\n")
expect_ok("${INCLUDE_DIR}" "${VERSIONS_FILE}" "current headers")

# 1. CRLF copies hash the same.
ferry_abi_hash("${INCLUDE_DIR}" lf_hash)
foreach(header IN LISTS FERRY_ABI_HEADERS)
  file(READ "${INCLUDE_DIR}/${header}" content)
  string(REPLACE "\r\n" "\n" content "${content}")
  string(REPLACE "\n" "\r\n" content "${content}")
  file(WRITE "${WORK_DIR}/crlf/${header}" "${content}")
endforeach()
ferry_abi_hash("${WORK_DIR}/crlf" crlf_hash)
if(NOT crlf_hash STREQUAL lf_hash)
  message(FATAL_ERROR "self-test 'CRLF': ${crlf_hash} != ${lf_hash}")
endif()
expect_ok("${WORK_DIR}/crlf" "${VERSIONS_FILE}" "CRLF line endings hash like LF")

# 2. One changed byte in the last header, same version: refused with the bump instructions.
foreach(header IN LISTS FERRY_ABI_HEADERS)
  file(READ "${INCLUDE_DIR}/${header}" content)
  if(header STREQUAL "ferry_protocol.h")
    string(APPEND content "/* a change */\n")
  endif()
  file(WRITE "${WORK_DIR}/changed/${header}" "${content}")
endforeach()
expect_failure("${WORK_DIR}/changed" "${VERSIONS_FILE}" "changed header without a bump"
               "changed without an ABI version bump")
expect_failure("${WORK_DIR}/changed" "${VERSIONS_FILE}" "changed header: message says to bump" "Bump FERRY_ABI_MINOR")

# 3. The change plus a minor bump, not yet recorded: refused with the line to record.
math(EXPR bumped_minor "${minor} + 1")
foreach(header IN LISTS FERRY_ABI_HEADERS)
  file(READ "${WORK_DIR}/changed/${header}" content)
  if(header STREQUAL "ferry_plugin.h")
    string(REGEX REPLACE "#define FERRY_ABI_MINOR [0-9]+" "#define FERRY_ABI_MINOR ${bumped_minor}" content
           "${content}")
  endif()
  file(WRITE "${WORK_DIR}/bumped/${header}" "${content}")
endforeach()
ferry_abi_hash("${WORK_DIR}/bumped" bumped_hash)
expect_failure("${WORK_DIR}/bumped" "${VERSIONS_FILE}" "bumped but not recorded"
               "${major}.${bumped_minor} ${bumped_hash}")

# 4. Recording it makes the bumped headers pass, and the old line still guards the old version.
file(READ "${VERSIONS_FILE}" versions)
file(WRITE "${WORK_DIR}/abi-versions-bumped.txt" "${versions}${major}.${bumped_minor} ${bumped_hash}\n")
expect_ok("${WORK_DIR}/bumped" "${WORK_DIR}/abi-versions-bumped.txt" "bumped and recorded")
expect_failure("${WORK_DIR}/changed" "${WORK_DIR}/abi-versions-bumped.txt" "old version still guarded"
               "changed without an ABI version bump")
