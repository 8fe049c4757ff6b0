# Installs promwatch.service, run by `cmake --install` (and CPack) through install(SCRIPT).
#
# The unit names the binary by its installed path, so it is configured here, at install time,
# from the prefix in force then (`cmake --install --prefix P`, CPack's /usr) rather than from the
# configure-time CMAKE_INSTALL_PREFIX. DESTDIR is honoured. Set by the top-level CMakeLists.txt
# (install(CODE) just before this script): PROMWATCH_UNIT_TEMPLATE, PROMWATCH_REL_BINDIR,
# PROMWATCH_REL_DOCDIR, PROMWATCH_REL_UNITDIR (relative to the prefix, or absolute).

foreach(_kind BINDIR DOCDIR UNITDIR)
  set(_dir "${PROMWATCH_REL_${_kind}}")
  if(NOT IS_ABSOLUTE "${_dir}")
    set(_dir "${CMAKE_INSTALL_PREFIX}/${_dir}")
  endif()
  set(PROMWATCH_${_kind} "${_dir}")
endforeach()

set(_unit "$ENV{DESTDIR}${PROMWATCH_UNITDIR}/promwatch.service")
message(STATUS "Installing: ${_unit}")
# @ONLY: the unit's own ${CONFIGURATION_DIRECTORY} and $MAINPID stay as they are.
configure_file("${PROMWATCH_UNIT_TEMPLATE}" "${_unit}" @ONLY)
file(CHMOD "${_unit}" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# The manifest lists installed paths without DESTDIR, as file(INSTALL) records them.
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${PROMWATCH_UNITDIR}/promwatch.service")
