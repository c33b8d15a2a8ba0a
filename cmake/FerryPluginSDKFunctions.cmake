# FerryPluginSDKFunctions.cmake -- helpers installed with the FerryPluginSDK package (included by its config file).
#
# ferry_sdk_add_plugin(<target> SOURCES <file>... [LINK <item>...] [NO_INSTALL] [INSTALL_DESTINATION <dir>])
#
# Makes <target> a Ferry plugin: a MODULE library (loaded at run time, never linked against) named exactly
# <target><module suffix> (no "lib" prefix: "line-protocol.so", "line-protocol.dll"), compiled against the public
# headers only (links FerryPluginSDK::headers), with symbols hidden by default so that the one entry point declared
# by FERRY_PLUGIN_ENTRY is what the library exports.
#   LINK                 more libraries to link privately (a plugin must not link anything from Ferry itself)
#   NO_INSTALL           add no install() rule
#   INSTALL_DESTINATION  where `cmake --install` puts it; default <libdir>/ferry/plugins/v1, one of the broker's
#                        default plugin directories when the plugin is installed into the broker's prefix.
#                        Otherwise point the broker at it with plugins.dirs.
# C sources need C99 or later; C++ sources using <ferry/sdk.hpp> need C++17 or later (set when nothing else is).
include_guard(GLOBAL)

function(ferry_sdk_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NO_INSTALL" "INSTALL_DESTINATION" "SOURCES;LINK")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "ferry_sdk_add_plugin(${target}): unexpected arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "ferry_sdk_add_plugin(${target}): SOURCES is required")
  endif()
  if(NOT TARGET FerryPluginSDK::headers)
    message(FATAL_ERROR "ferry_sdk_add_plugin(${target}): call find_package(FerryPluginSDK) first")
  endif()

  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE FerryPluginSDK::headers ${ARG_LINK})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT DEFINED CMAKE_C_STANDARD)
    set_target_properties(${target} PROPERTIES C_STANDARD 99)
  endif()
  if(NOT DEFINED CMAKE_CXX_STANDARD)
    set_target_properties(${target} PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  endif()

  if(NOT ARG_NO_INSTALL)
    if(ARG_INSTALL_DESTINATION)
      set(destination "${ARG_INSTALL_DESTINATION}")
    else()
      include(GNUInstallDirs)
      set(destination "${CMAKE_INSTALL_LIBDIR}/${FerryPluginSDK_PLUGIN_SUBDIR}")
    endif()
    install(TARGETS ${target}
      LIBRARY DESTINATION "${destination}"
      RUNTIME DESTINATION "${destination}")
  endif()
endfunction()
