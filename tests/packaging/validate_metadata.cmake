# Validates the desktop entry and the AppStream metainfo with the tools distributions check them with:
# desktop-file-validate (desktop-file-utils) and appstreamcli (appstream). Both are in the package list
# (PACKAGE_LIST, packaging/debian-packages.txt) that scripts/lethe installs, so a missing tool fails the test,
# naming the package to install. LETHE_TEST_ALLOW_MISSING_VALIDATORS=1 in the environment opts out: a missing
# tool is then reported with a message ctest turns into "Skipped" (for machines that cannot install packages).
#
#   cmake -DDESKTOP_FILE=… -DMETAINFO_FILE=… -DPACKAGE_LIST=… -P validate_metadata.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var DESKTOP_FILE METAINFO_FILE PACKAGE_LIST)
    if(NOT EXISTS "${${var}}")
        message(FATAL_ERROR "${var} '${${var}}' does not exist")
    endif()
endforeach()

# The package list must name both validators' packages, or `scripts/lethe test` would not install them.
file(STRINGS "${PACKAGE_LIST}" listed REGEX "^[ \t]*[^# \t]")
string(REGEX REPLACE "[ \t]+" "" listed "${listed}")
foreach(package desktop-file-utils appstream)
    if(NOT package IN_LIST listed)
        message(FATAL_ERROR "${PACKAGE_LIST} does not list the Debian package ${package}, which the "
            "packaging_metadata test needs")
    endif()
endforeach()

set(missing "")

find_program(DESKTOP_FILE_VALIDATE desktop-file-validate)
if(DESKTOP_FILE_VALIDATE)
    execute_process(COMMAND "${DESKTOP_FILE_VALIDATE}" "${DESKTOP_FILE}"
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    message(STATUS "desktop-file-validate ${DESKTOP_FILE}: exit ${rc}\n${out}")
    # It exits 0 on hints too; only errors and warnings fail the test.
    if(NOT rc EQUAL 0 OR out MATCHES "(error|warning):")
        message(FATAL_ERROR "desktop-file-validate rejects ${DESKTOP_FILE}")
    endif()
else()
    list(APPEND missing "desktop-file-validate (Debian package desktop-file-utils)")
endif()

find_program(APPSTREAMCLI appstreamcli)
if(APPSTREAMCLI)
    # --no-net: the screenshot and homepage URLs are not fetched; the test must run offline.
    execute_process(COMMAND "${APPSTREAMCLI}" validate --no-net --no-color "${METAINFO_FILE}"
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    message(STATUS "appstreamcli validate ${METAINFO_FILE}: exit ${rc}\n${out}")
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "appstreamcli rejects ${METAINFO_FILE}")
    endif()
else()
    list(APPEND missing "appstreamcli (Debian package appstream)")
endif()

if(missing)
    list(JOIN missing " and " missing)
    if("$ENV{LETHE_TEST_ALLOW_MISSING_VALIDATORS}" STREQUAL "")
        message(FATAL_ERROR "not installed: ${missing}; install the missing package (scripts/lethe installs every package of "
            "${PACKAGE_LIST}), or set LETHE_TEST_ALLOW_MISSING_VALIDATORS=1 to skip what cannot be checked")
    endif()
    message(STATUS "LETHE_TEST_SKIPPED: not installed, so not checked (LETHE_TEST_ALLOW_MISSING_VALIDATORS is set): "
        "${missing}")
endif()
