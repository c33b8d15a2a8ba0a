# packaging.man_page.<program> (cmake -P): the generated man page of one program
#   1. renders with groff's man macros on a UTF-8 terminal without a single warning (groff -ww);
#   2. mentions every option and every verb the program's --help lists (so a new option cannot be left out);
#   3. has NAME, SYNOPSIS, DESCRIPTION, FILES (naming every path of FILES) and SEE ALSO;
#   4. is what `cmake --install --component COMPONENT` puts in <mandir>/man1 (gzip-compressed).
# Fails (FATAL_ERROR) on the first thing that is wrong.
#
# Inputs (-D): PROGRAM, NAME (e.g. ferry-broker), PAGE (the generated page), GROFF (may be empty or NOTFOUND: fails),
#              FERRY_BUILD_DIR, MANDIR (CMAKE_INSTALL_MANDIR), WORK_DIR, COMPONENT (broker, console),
#              FILES (comma-separated paths the FILES section names)
cmake_minimum_required(VERSION 3.25)

foreach(var PROGRAM NAME PAGE FERRY_BUILD_DIR MANDIR WORK_DIR COMPONENT FILES)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "man_page.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GROFF)
  message(FATAL_ERROR "groff was not found when this build was configured (Debian: groff-base); "
                      "the man pages cannot be checked")
endif()
if(NOT EXISTS "${PAGE}")
  message(FATAL_ERROR "${PAGE} does not exist (target ferry-man-pages)")
endif()

# 1. No warning of any kind.
execute_process(COMMAND "${GROFF}" -man -Tutf8 -ww -z "${PAGE}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE warnings)
if(NOT rc EQUAL 0 OR NOT warnings STREQUAL "")
  message(FATAL_ERROR "groff -man -Tutf8 -ww ${PAGE} (${rc}):\n${warnings}")
endif()
message(STATUS "groff -man -Tutf8 -ww: no warnings")

# The text a reader sees, on lines long enough that no word is hyphenated, without bold or underline.
execute_process(COMMAND "${GROFF}" -man -Tutf8 -rLL=1000n -P-cbou "${PAGE}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE rendered ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR rendered STREQUAL "")
  message(FATAL_ERROR "groff could not render ${PAGE} (${rc}): ${err}")
endif()
# Hyphen (U+2010) and minus (U+2212) read as '-' when searching for options.
string(REPLACE "‐" "-" rendered "${rendered}")
string(REPLACE "−" "-" rendered "${rendered}")
string(REPLACE ";" "," rendered "${rendered}")

# 2. What --help lists, read the way the page generator reads it (the same environment).
set(ENV{HOME} "~")
unset(ENV{XDG_CONFIG_HOME})
set(ENV{LC_ALL} C)
execute_process(COMMAND "${PROGRAM}" --help RESULT_VARIABLE rc OUTPUT_VARIABLE help ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR help STREQUAL "")
  message(FATAL_ERROR "${PROGRAM} --help failed (${rc}): ${err}")
endif()
string(REPLACE ";" "," help "${help}")
# Brackets become spaces: CMake lists would group on them.
string(REGEX REPLACE "[][\n]" " " help_words " ${help}")
string(REGEX MATCHALL "[ (|,]--?[A-Za-z][A-Za-z0-9-]*" options "${help_words}")
list(TRANSFORM options REPLACE "^[ (|,]" "")
list(REMOVE_DUPLICATES options)
list(LENGTH options n_options)
if(n_options LESS 5)
  message(FATAL_ERROR "found only ${n_options} options in ${NAME} --help (${options}): the check would prove little")
endif()
# Verbs: the lowercase words that start an entry indented by two spaces (ferryctl's "  dlq list").
string(REPLACE "[" "<" help_for_lines "${help}")
string(REPLACE "]" ">" help_for_lines "${help_for_lines}")
string(REPLACE "\n" ";" help_lines "${help_for_lines}")
set(verbs "")
foreach(line IN LISTS help_lines)
  if(line MATCHES "^  ([a-z][a-z0-9-]*( [a-z][a-z0-9-]*)*)( |$)")
    list(APPEND verbs "${CMAKE_MATCH_1}")
  endif()
endforeach()

set(missing "")
foreach(option IN LISTS options)
  if(NOT rendered MATCHES "[^A-Za-z0-9-]${option}([^A-Za-z0-9-]|$)")
    list(APPEND missing "${option}")
  endif()
endforeach()
foreach(verb IN LISTS verbs)
  string(REPLACE " " " +" verb_pattern "${verb}")
  if(NOT rendered MATCHES "\n +${verb_pattern}( |\n)")
    list(APPEND missing "verb '${verb}'")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "${PAGE} does not mention what ${NAME} --help lists: ${missing}\n--- page ---\n${rendered}")
endif()
list(LENGTH verbs n_verbs)
message(STATUS "the page mentions all ${n_options} options and ${n_verbs} verbs of ${NAME} --help")

# 3. The sections a reader looks for.
foreach(section NAME SYNOPSIS DESCRIPTION FILES "SEE ALSO")
  if(NOT rendered MATCHES "\n${section}\n")
    message(FATAL_ERROR "${PAGE} has no ${section} section:\n${rendered}")
  endif()
endforeach()
string(REGEX MATCH "\nFILES\n.*\nSEE ALSO\n" files_section "${rendered}")
string(REPLACE "," ";" required_paths "${FILES}")
foreach(path IN LISTS required_paths)
  string(FIND "${files_section}" "${path}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the FILES section of ${PAGE} does not name ${path}:\n${files_section}")
  endif()
endforeach()
if(NOT rendered MATCHES "\nNAME\n +${NAME} - [^\n]+\n")
  message(FATAL_ERROR "the NAME section of ${PAGE} is not '${NAME} - <what it is>'")
endif()

# 4. Installed with its component.
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${FERRY_BUILD_DIR}" --component "${COMPONENT}"
                        --prefix "${WORK_DIR}/prefix"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install --component ${COMPONENT} failed (${rc}):\n${out}\n${err}")
endif()
set(installed "${WORK_DIR}/prefix/${MANDIR}/man1/${NAME}.1.gz")
if(NOT EXISTS "${installed}")
  message(FATAL_ERROR "the ${COMPONENT} component does not install ${MANDIR}/man1/${NAME}.1.gz")
endif()
execute_process(COMMAND gzip -dc "${installed}" OUTPUT_FILE "${WORK_DIR}/installed.1" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${installed} is not gzip data")
endif()
file(SHA256 "${WORK_DIR}/installed.1" installed_hash)
file(SHA256 "${PAGE}" page_hash)
if(NOT installed_hash STREQUAL page_hash)
  message(FATAL_ERROR "the installed ${installed} differs from the generated ${PAGE}")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
message(STATUS "installed as ${MANDIR}/man1/${NAME}.1.gz: ok")
