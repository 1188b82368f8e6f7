# Validates the desktop entry and the AppStream metainfo with the tools distributions check them with:
# desktop-file-validate (desktop-file-utils) and appstreamcli (appstream). Each check is skipped, with a
# message ctest turns into "Skipped", when its tool is not installed.
#
#   cmake -DDESKTOP_FILE=… -DMETAINFO_FILE=… -P validate_metadata.cmake

foreach(var DESKTOP_FILE METAINFO_FILE)
    if(NOT EXISTS "${${var}}")
        message(FATAL_ERROR "${var} '${${var}}' does not exist")
    endif()
endforeach()

set(missing "")
set(ran 0)

find_program(DESKTOP_FILE_VALIDATE desktop-file-validate)
if(DESKTOP_FILE_VALIDATE)
    execute_process(COMMAND "${DESKTOP_FILE_VALIDATE}" "${DESKTOP_FILE}"
        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    message(STATUS "desktop-file-validate ${DESKTOP_FILE}: exit ${rc}\n${out}")
    # It exits 0 on hints too; only errors and warnings fail the test.
    if(NOT rc EQUAL 0 OR out MATCHES "(error|warning):")
        message(FATAL_ERROR "desktop-file-validate rejects ${DESKTOP_FILE}")
    endif()
    math(EXPR ran "${ran} + 1")
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
    math(EXPR ran "${ran} + 1")
else()
    list(APPEND missing "appstreamcli (Debian package appstream)")
endif()

if(missing)
    list(JOIN missing ", " missing)
    if(ran EQUAL 0)
        message(STATUS "LETHE_TEST_SKIPPED: not installed: ${missing}")
    else()
        message(STATUS "checked ${ran} file(s); not installed, so not checked: ${missing}")
    endif()
endif()
