# ferry_add_plugin(<target> SOURCES ... [LINK ...])
# A plugin is a MODULE library that sees only the public ABI (broker/include/ferry) and the SDK (broker/sdk):
# it links ferry::plugin_api and nothing from the kernel, so the layering is enforced by the build.
# It lands in <build>/lib/ferry/plugins/v1/ and installs to <libdir>/ferry/plugins/v1/.
function(ferry_add_plugin target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ferry::plugin_api ${ARG_LINK})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${FERRY_PLUGIN_BUILD_DIR}
    RUNTIME_OUTPUT_DIRECTORY ${FERRY_PLUGIN_BUILD_DIR}
    AUTOMOC OFF)
  install(TARGETS ${target} LIBRARY DESTINATION ${FERRY_PLUGIN_INSTALL_DIR} COMPONENT broker
                            RUNTIME DESTINATION ${FERRY_PLUGIN_INSTALL_DIR} COMPONENT broker)
endfunction()
