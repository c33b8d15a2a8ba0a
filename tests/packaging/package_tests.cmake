# The package tests (CTest label "packages"), registered by packaging/CMakeLists.txt in a build of the `package`
# preset (FERRY_PACKAGE_TESTS=ON): they build the packages of that build and check them. See README.md.
#
#   packaging.cpack               cpack makes the DEB and RPM of each component and the TGZ (fixture for the rest)
#   packaging.lintian             lintian finds no error in any DEB (warnings are printed)
#   packaging.rpm_contents        each RPM holds its component's files; the config is %config(noreplace)
#   packaging.tgz_contents        the TGZ holds every component's files
#   packaging.deb_install_remove  (FERRY_PACKAGE_INSTALL_TESTS=ON only: it installs into this machine) apt-get
#                                 installs the DEBs, the broker runs from the installed files as `ferry`, a real
#                                 client publishes and consumes, ferryctl answers, the SDK builds the example
#                                 plugin alone; a modified conffile survives a reinstall; remove keeps the data and
#                                 config, purge deletes them
set(packages_dir ${PROJECT_BINARY_DIR}/packages)
set(check ${PROJECT_SOURCE_DIR}/tests/packaging/check_packages.sh)

add_test(NAME packaging.cpack
         COMMAND ${CMAKE_CPACK_COMMAND} --config ${PROJECT_BINARY_DIR}/CPackConfig.cmake -G "DEB;RPM;TGZ"
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(packaging.cpack PROPERTIES FIXTURES_SETUP ferry_packages LABELS packages TIMEOUT 900)

foreach(check_name lintian rpm_contents tgz_contents)
  add_test(NAME packaging.${check_name} COMMAND ${check} ${check_name} ${packages_dir} ${PROJECT_VERSION})
  set_tests_properties(packaging.${check_name} PROPERTIES FIXTURES_REQUIRED ferry_packages LABELS packages
                       TIMEOUT 600)
endforeach()

option(FERRY_PACKAGE_INSTALL_TESTS "Install the built DEBs into this machine and remove them again (CI)" OFF)
if(FERRY_PACKAGE_INSTALL_TESTS)
  add_test(NAME packaging.deb_install_remove
           COMMAND ${PROJECT_SOURCE_DIR}/tests/packaging/deb_install_remove.sh ${packages_dir} ${PROJECT_VERSION})
  set_tests_properties(packaging.deb_install_remove PROPERTIES FIXTURES_REQUIRED ferry_packages LABELS packages
                       TIMEOUT 900 RUN_SERIAL ON)
endif()
