# Helpers shared by the ABI hash scripts (included by check_abi_hash.cmake and selftest_abi_hash.cmake).
#
# The ABI hash is the SHA-256 of the three public headers' contents, concatenated in the fixed order
# ferry_plugin.h, ferry_storage.h, ferry_protocol.h, with CRLF normalised to LF (so a Windows checkout hashes the
# same). abi-versions.txt records one "<major>.<minor> <sha256>" line per released ABI version.

set(FERRY_ABI_HEADERS ferry_plugin.h ferry_storage.h ferry_protocol.h)

# ferry_abi_hash(<include dir holding the three headers> <out var>)
function(ferry_abi_hash dir out_var)
  set(all "")
  foreach(header IN LISTS FERRY_ABI_HEADERS)
    if(NOT EXISTS "${dir}/${header}")
      message(FATAL_ERROR "ABI header missing: ${dir}/${header}")
    endif()
    file(READ "${dir}/${header}" content)
    string(REPLACE "\r\n" "\n" content "${content}")
    string(APPEND all "${content}")
  endforeach()
  string(SHA256 hash "${all}")
  set(${out_var} "${hash}" PARENT_SCOPE)
endfunction()

# ferry_abi_version(<include dir> <out major> <out minor>): FERRY_ABI_MAJOR/MINOR from ferry_plugin.h.
function(ferry_abi_version dir major_var minor_var)
  file(READ "${dir}/ferry_plugin.h" content)
  if(NOT content MATCHES "#define[ \t]+FERRY_ABI_MAJOR[ \t]+([0-9]+)")
    message(FATAL_ERROR "FERRY_ABI_MAJOR not found in ${dir}/ferry_plugin.h")
  endif()
  set(major "${CMAKE_MATCH_1}")
  if(NOT content MATCHES "#define[ \t]+FERRY_ABI_MINOR[ \t]+([0-9]+)")
    message(FATAL_ERROR "FERRY_ABI_MINOR not found in ${dir}/ferry_plugin.h")
  endif()
  set(${major_var} "${major}" PARENT_SCOPE)
  set(${minor_var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

# ferry_abi_recorded_hash(<versions file> <version "M.m"> <out var>): the recorded hash, or "" when none.
# Fails on a malformed line or a version recorded twice.
function(ferry_abi_recorded_hash versions_file version out_var)
  file(STRINGS "${versions_file}" lines)
  set(found "")
  foreach(line IN LISTS lines)
    string(STRIP "${line}" line)
    if(line STREQUAL "" OR line MATCHES "^#")
      continue()
    endif()
    if(NOT line MATCHES "^([0-9]+\\.[0-9]+)[ \t]+([0-9a-f]+)$")
      message(FATAL_ERROR "${versions_file}: malformed line '${line}' (expected '<major>.<minor> <sha256>')")
    endif()
    set(line_version "${CMAKE_MATCH_1}")
    set(line_hash "${CMAKE_MATCH_2}")
    string(LENGTH "${line_hash}" hash_length)
    if(NOT hash_length EQUAL 64)
      message(FATAL_ERROR "${versions_file}: '${line_hash}' is not a SHA-256 in hex")
    endif()
    if(line_version STREQUAL version)
      if(NOT found STREQUAL "")
        message(FATAL_ERROR "${versions_file}: ABI ${version} is recorded twice")
      endif()
      set(found "${line_hash}")
    endif()
  endforeach()
  set(${out_var} "${found}" PARENT_SCOPE)
endfunction()

# ferry_abi_check(<include dir> <versions file> <out ok> <out message>)
# ok is TRUE when the headers' hash is the one recorded for the version they declare.
function(ferry_abi_check dir versions_file ok_var message_var)
  ferry_abi_version("${dir}" major minor)
  ferry_abi_hash("${dir}" hash)
  ferry_abi_recorded_hash("${versions_file}" "${major}.${minor}" recorded)
  if(recorded STREQUAL "")
    set(${ok_var} FALSE PARENT_SCOPE)
    set(${message_var}
        "ABI ${major}.${minor} has no hash recorded in ${versions_file}.\n"
        "If you just bumped FERRY_ABI_MAJOR/MINOR, record the new version by adding this line:\n"
        "${major}.${minor} ${hash}"
        PARENT_SCOPE)
  elseif(NOT recorded STREQUAL hash)
    set(${ok_var} FALSE PARENT_SCOPE)
    set(${message_var}
        "The public headers in ${dir} changed without an ABI version bump.\n"
        "They declare ABI ${major}.${minor}, recorded with hash ${recorded}, but now hash to ${hash}.\n"
        "Bump FERRY_ABI_MINOR in ferry_plugin.h (additions at the end of structs, new defines) or FERRY_ABI_MAJOR "
        "(anything else), then record the new version in ${versions_file} as '<major>.<minor> ${hash}'.\n"
        "Never edit a recorded line: plugins built against it exist."
        PARENT_SCOPE)
  else()
    set(${ok_var} TRUE PARENT_SCOPE)
    set(${message_var} "ABI ${major}.${minor}: headers match the recorded hash ${hash}" PARENT_SCOPE)
  endif()
endfunction()
