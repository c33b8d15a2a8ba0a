# packaging/windows/cpack-windows-generator.cmake: CPACK_PROJECT_CONFIG_FILE of the Windows packages
# (cpack-windows.cmake). cpack reads it once per generator, after CPackConfig.cmake and before packaging, with
# CPACK_GENERATOR set to the one generator being run.
#
# Sets, for WIX only:
#   CPACK_MONOLITHIC_INSTALL   one MSI feature: the broker's and the console's components both carry Qt6Core.dll,
#                              Qt6Network.dll and the C++ runtime in bin\, and two MSI features cannot own the same
#                              file (ICE30). The WiX patch's component Id (ferry-broker-service.patch.xml) assumes it.
#   CPACK_PACKAGE_NAME         "Ferry message broker": the WiX template names the product after the package (the
#                              file name, fixed at configure time, stays ferry-<version>-win64.msi)
#   CPACK_PACKAGE_EXECUTABLES  ferry-console -> "Ferry console" in the Start menu. Not for NSIS, which would create
#                              the shortcut even when the console component is not chosen (it uses
#                              CPACK_NSIS_CREATE_ICONS_EXTRA instead).
# Then includes CPACK_FERRY_PREVIOUS_PROJECT_CONFIG_FILE, the project config file set before cpack-windows.cmake.
if(CPACK_GENERATOR STREQUAL "WIX")
  set(CPACK_MONOLITHIC_INSTALL ON)
  set(CPACK_PACKAGE_NAME "Ferry message broker")
  set(CPACK_PACKAGE_EXECUTABLES "ferry-console" "Ferry console")
endif()

if(CPACK_FERRY_PREVIOUS_PROJECT_CONFIG_FILE)
  include(${CPACK_FERRY_PREVIOUS_PROJECT_CONFIG_FILE})
endif()
