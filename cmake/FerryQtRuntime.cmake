# ferry_install_qt_runtime(<target> COMPONENT <component>)
#
# Windows: at install time (and so in every CPack package), Qt's deployment script runs windeployqt on the installed
# <target>, which copies the Qt DLLs and Qt plugins the program needs next to it in ${CMAKE_INSTALL_BINDIR} (plugins
# in <prefix>/plugins) and writes bin/qt.conf, all in <component>. Call it after install(TARGETS <target> ...), inside
# if(WIN32): elsewhere the packages use the system's Qt. With a static Qt there is nothing to deploy and the script
# only says so.
#
# qt_generate_deploy_app_script() exists since Qt 6.3; Qt 6.5 renamed its FILENAME_VARIABLE keyword to OUTPUT_SCRIPT.
# Several programs may deploy into the same bin/: they copy the same Qt files, which windeployqt leaves or replaces.
function(ferry_install_qt_runtime target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "COMPONENT" "")
  if(NOT arg_COMPONENT)
    message(FATAL_ERROR "ferry_install_qt_runtime(${target}): COMPONENT is required")
  endif()
  if(Qt6_VERSION VERSION_GREATER_EQUAL 6.5)
    qt_generate_deploy_app_script(TARGET ${target} OUTPUT_SCRIPT deploy_script NO_UNSUPPORTED_PLATFORM_ERROR)
  else()
    qt_generate_deploy_app_script(TARGET ${target} FILENAME_VARIABLE deploy_script NO_UNSUPPORTED_PLATFORM_ERROR)
  endif()
  install(SCRIPT ${deploy_script} COMPONENT ${arg_COMPONENT})
endfunction()
