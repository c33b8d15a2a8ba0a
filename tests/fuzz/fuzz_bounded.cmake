# Runs a libFuzzer binary for 60 s over a scratch copy of a corpus (the fuzzer writes the inputs it finds into its
# first directory: never the committed corpus). cmake -DFUZZER=... -DCORPUS=... -DSCRATCH=... -DARTIFACTS=... -P this
file(REMOVE_RECURSE "${SCRATCH}")
file(COPY "${CORPUS}/" DESTINATION "${SCRATCH}")
execute_process(COMMAND "${FUZZER}" -max_total_time=60 -print_final_stats=1 -artifact_prefix=${ARTIFACTS}/
                        "${SCRATCH}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the crashing input is in ${ARTIFACTS}")
endif()
