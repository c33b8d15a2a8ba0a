# packaging/windows/cpack-windows.cmake: the Windows installers. packaging/CMakeLists.txt include()s this on WIN32,
# after it has set the common CPack variables and before include(CPack). Not built or run on the project's Linux CI
# (docs/building-on-windows.md says what a first Windows build must check).
#
# Expects: CPACK_PACKAGE_NAME, CPACK_PACKAGE_VERSION, CPACK_PACKAGE_INSTALL_DIRECTORY and the components broker,
# console and sdk (CPACK_COMPONENTS_ALL) to exist already; ferry-broker.exe, ferryctl.exe and ferry-console.exe in
# ${CMAKE_INSTALL_BINDIR}, the config in etc/ferry/ferry.conf below the install dir.
#
# Sets, at configure time:
#   CPACK_GENERATOR                   NSIS and ZIP, plus WIX when the WiX toolset is installed (%WIX%)
#   CPACK_VERBATIM_VARIABLES          ON: the NSIS snippets below reach the installer script exactly as written
#   CPACK_RESOURCE_FILE_LICENSE       a .txt copy of packaging/copyright (WiX takes only .txt or .rtf)
#   CPACK_PROJECT_CONFIG_FILE         packaging/windows/cpack-windows-generator.cmake (WiX-only settings, read by
#                                     cpack per generator; it includes a project config file set before this one)
#   CPACK_FERRY_PREVIOUS_PROJECT_CONFIG_FILE  that earlier file, if any
#   CPACK_COMPONENT_{BROKER,CONSOLE,SDK}_DESCRIPTION  one-line texts for the installer's component page (replacing
#                                     the Debian-style descriptions, which name systemd)
#   NSIS: CPACK_NSIS_PACKAGE_NAME, CPACK_NSIS_DISPLAY_NAME, CPACK_NSIS_INSTALL_ROOT, CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL,
#         CPACK_NSIS_MODIFY_PATH, CPACK_NSIS_EXECUTABLES_DIRECTORY, CPACK_NSIS_CREATE_ICONS_EXTRA,
#         CPACK_NSIS_DELETE_ICONS_EXTRA, CPACK_NSIS_EXTRA_INSTALL_COMMANDS, CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS
#   WiX:  CPACK_WIX_UPGRADE_GUID (fixed: never change it, or upgrades install side by side), CPACK_WIX_PROGRAM_MENU_FOLDER,
#         CPACK_WIX_ROOT_FEATURE_TITLE, CPACK_WIX_PATCH_FILE, CPACK_WIX_EXTENSIONS, CPACK_WIX_CUSTOM_XMLNS
# and at cpack time, for WIX only (cpack-windows-generator.cmake): CPACK_MONOLITHIC_INSTALL, CPACK_PACKAGE_NAME
# (the MSI's product name), CPACK_PACKAGE_EXECUTABLES (the console's Start-menu shortcut).
# ZIP needs nothing of its own: one archive of all components (CPACK_ARCHIVE_COMPONENT_INSTALL stays off).
#
# Also installs, on Windows only: the docs (docs/*.md) to share/doc/ferry in the broker component, with a WiX
# Start-menu shortcut property on the configuration reference, and the MSVC runtime DLLs
# (InstallRequiredSystemLibraries) next to the programs in the broker and in the console component.
#
# The service: NSIS runs `ferry-broker.exe --install-service --config <instdir>\etc\ferry\ferry.conf` and
# `sc start ferry-broker` after installing, `ferry-broker.exe --uninstall-service` before removing files; the
# MSI declares it with ServiceInstall/ServiceControl (ferry-broker-service.patch.xml). Both use the service name
# ferry-broker, display name "Ferry message broker", automatic start, data in %ProgramData%\Ferry.

# ---- files only the Windows packages carry ---------------------------------------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/ferry COMPONENT broker)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/ferry COMPONENT broker
        FILES_MATCHING PATTERN "*.md" PATTERN "screenshots" EXCLUDE)
set_property(INSTALL "${CMAKE_INSTALL_DATADIR}/doc/ferry/configuration.md"
             PROPERTY CPACK_START_MENU_SHORTCUTS "Ferry configuration reference")

# The C++ runtime app-local, in both components that have programs (either may be installed alone).
set(CMAKE_INSTALL_SYSTEM_RUNTIME_LIBS_SKIP TRUE)
include(InstallRequiredSystemLibraries)
if(CMAKE_INSTALL_SYSTEM_RUNTIME_LIBS)
  foreach(component broker console)
    install(PROGRAMS ${CMAKE_INSTALL_SYSTEM_RUNTIME_LIBS} DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${component})
  endforeach()
endif()

# ---- common -----------------------------------------------------------------------------------------------------
set(CPACK_GENERATOR NSIS ZIP)
if(DEFINED ENV{WIX})
  list(APPEND CPACK_GENERATOR WIX)
endif()
set(CPACK_VERBATIM_VARIABLES ON)

configure_file(${CMAKE_CURRENT_SOURCE_DIR}/copyright ${CMAKE_CURRENT_BINARY_DIR}/windows/license.txt COPYONLY)
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_CURRENT_BINARY_DIR}/windows/license.txt)

if(CPACK_PROJECT_CONFIG_FILE)
  set(CPACK_FERRY_PREVIOUS_PROJECT_CONFIG_FILE ${CPACK_PROJECT_CONFIG_FILE})
endif()
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_SOURCE_DIR}/windows/cpack-windows-generator.cmake)

set(CPACK_COMPONENT_BROKER_DESCRIPTION
    "ferry-broker (installed as the Windows service ferry-broker), ferryctl, the RocketMQ and AMQP protocol plugins, the file and SQLite storage plugins, the default config and the documentation.")
set(CPACK_COMPONENT_CONSOLE_DESCRIPTION
    "ferry-console, the desktop console for Ferry brokers (topics, queues, exchanges, messages, dead letters, consumer groups, connections, replication).")
set(CPACK_COMPONENT_SDK_DESCRIPTION
    "Headers, the CMake package FerryPluginSDK, an example plugin and the plugin author guide, for writing Ferry plugins.")

# ---- NSIS -------------------------------------------------------------------------------------------------------
set(CPACK_NSIS_PACKAGE_NAME "Ferry ${CPACK_PACKAGE_VERSION}")
set(CPACK_NSIS_DISPLAY_NAME "Ferry message broker")
set(CPACK_NSIS_INSTALL_ROOT "$PROGRAMFILES64") # + CPACK_PACKAGE_INSTALL_DIRECTORY: C:\Program Files\Ferry
# The old uninstaller runs first, so the old service is stopped and removed before its files are replaced.
set(CPACK_NSIS_ENABLE_UNINSTALL_BEFORE_INSTALL ON)
# CPack's PATH editing truncates a long PATH (NSIS strings are 1024 characters): ferryctl is run by its full path.
set(CPACK_NSIS_MODIFY_PATH OFF)
set(CPACK_NSIS_EXECUTABLES_DIRECTORY ${CMAKE_INSTALL_BINDIR})
# Start menu: the console only when its component was chosen, the documentation folder always.
set(CPACK_NSIS_CREATE_ICONS_EXTRA [=[
  IfFileExists "$INSTDIR\bin\ferry-console.exe" 0 +2
    CreateShortCut "$SMPROGRAMS\$STARTMENU_FOLDER\Ferry console.lnk" "$INSTDIR\bin\ferry-console.exe"
  CreateShortCut "$SMPROGRAMS\$STARTMENU_FOLDER\Ferry documentation.lnk" "$INSTDIR\share\doc\ferry"
]=])
set(CPACK_NSIS_DELETE_ICONS_EXTRA [=[
  Delete "$SMPROGRAMS\$MUI_TEMP\Ferry console.lnk"
  Delete "$SMPROGRAMS\$MUI_TEMP\Ferry documentation.lnk"
]=])
# Runs after every component's files are in place (the template's core section comes after the component ones).
set(CPACK_NSIS_EXTRA_INSTALL_COMMANDS [=[
  IfFileExists "$INSTDIR\bin\ferry-broker.exe" 0 ferry_service_done
    DetailPrint "Installing the Windows service ferry-broker"
    nsExec::ExecToLog '"$INSTDIR\bin\ferry-broker.exe" --install-service --config "$INSTDIR\etc\ferry\ferry.conf"'
    Pop $0
    StrCmp $0 "0" ferry_service_start
      MessageBox MB_OK|MB_ICONEXCLAMATION "The service ferry-broker could not be installed (exit code $0). Run $\"$INSTDIR\bin\ferry-broker.exe$\" --install-service from an administrator prompt to see why." /SD IDOK
      Goto ferry_service_done
  ferry_service_start:
    nsExec::ExecToLog '"$SYSDIR\sc.exe" start ferry-broker'
    Pop $0
  ferry_service_done:
]=])
# Runs before the files are removed; data, config and logs in %ProgramData%\Ferry stay.
set(CPACK_NSIS_EXTRA_UNINSTALL_COMMANDS [=[
  IfFileExists "$INSTDIR\bin\ferry-broker.exe" 0 +3
    nsExec::ExecToLog '"$INSTDIR\bin\ferry-broker.exe" --uninstall-service'
    Pop $0
]=])

# ---- WiX --------------------------------------------------------------------------------------------------------
set(CPACK_WIX_UPGRADE_GUID "A2FD57E5-E3E5-426D-B2AE-17BCC391AC78")
set(CPACK_WIX_PROGRAM_MENU_FOLDER "Ferry")
set(CPACK_WIX_ROOT_FEATURE_TITLE "Ferry")
# util:ServiceConfig (restart on failure) comes from WixUtilExtension.
set(CPACK_WIX_EXTENSIONS WixUtilExtension)
set(CPACK_WIX_CUSTOM_XMLNS "util=http://schemas.microsoft.com/wix/UtilExtension")
set(CPACK_WIX_PATCH_FILE ${CMAKE_CURRENT_SOURCE_DIR}/windows/ferry-broker-service.patch.xml)
