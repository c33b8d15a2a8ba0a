# ferry_add_bounded_fuzz(<test name> <fuzzer target> <corpus dir> [LABELS ...]): a CTest test that runs the libFuzzer
# target for 60 s over a scratch copy of the corpus (tests/fuzz/fuzz_bounded.cmake). The fuzz preset runs every
# test named *fuzz_bounded.
function(ferry_add_bounded_fuzz name target corpus)
  cmake_parse_arguments(ARG "" "" "LABELS" ${ARGN})
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -DFUZZER=$<TARGET_FILE:${target}> -DCORPUS=${corpus}
                   -DSCRATCH=${CMAKE_CURRENT_BINARY_DIR}/fuzz-scratch -DARTIFACTS=${CMAKE_CURRENT_BINARY_DIR}
                   -P ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_bounded.cmake)
  set_tests_properties(${name} PROPERTIES TIMEOUT 240 LABELS "${ARG_LABELS}")
endfunction()
