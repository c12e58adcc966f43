# Installation layout and the Debian package (CPack DEB). Included once from CMakeLists.txt, after the three
# programs are defined. `make package` (or `cmake --build --preset release --target package`) writes
# build/dist/kaillera-federation_<version>_amd64.deb.
#
# The package, as Debian 12 lays things out:
#   /usr/bin/kaillera-relay, kaillera-master, kaillera
#   /etc/kaillera-federation/relay.toml, master.toml, access.toml   conffiles: an upgrade keeps your edits
#   /lib/systemd/system/kaillera-relay.service, kaillera-master.service
#   /usr/lib/sysusers.d/kaillera-federation.conf                    the user `kaillera`
#   /usr/share/man/man1/*.1.gz (help2man) or /usr/share/doc/kaillera-federation/*.help.txt (no help2man)
#   /usr/share/doc/kaillera-federation/                              README, OPERATING, the master's README
# and the maintainer scripts of deploy/debian/ (the user, /var/lib/kaillera-federation, purge).
# Dependencies come from dpkg-shlibdeps (the libraries the binaries link), plus adduser for postinst and
# procps for the relay unit's ExecReload=/bin/kill (minimal systems and images lack it).

if(NOT TARGET kaillera-relay OR NOT TARGET kaillera-master OR NOT TARGET kaillera_cli)
  return()  # the sanitizer and fuzz builds make no package
endif()

set(KF_PKG_NAME kaillera-federation)
set(KF_PKG_ETC /etc/${KF_PKG_NAME})
set(KF_PKG_STATE /var/lib/${KF_PKG_NAME})
set(KF_PKG_DIR ${CMAKE_BINARY_DIR}/package)  # generated files of the package

# ---- The shipped configs: the examples, with the package's paths -----------------------------------------
# Each replacement must match exactly once, so an example that changes shape stops the configure step here
# instead of shipping a config that still points at a relative path.
function(kf_replace_once text_var pattern replacement what)
  string(REGEX MATCHALL "${pattern}" found "${${text_var}}")
  list(LENGTH found n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "cmake/Package.cmake: ${what}: expected one match of '${pattern}', found ${n}")
  endif()
  string(REGEX REPLACE "${pattern}" "${replacement}" out "${${text_var}}")
  set(${text_var} "${out}" PARENT_SCOPE)
endfunction()

function(kf_shipped_config source dest header)
  file(READ ${source} text)
  set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${source})
  foreach(pair IN LISTS ARGN)
    string(REPLACE "=>" ";" pair "${pair}")
    list(GET pair 0 pattern)
    list(GET pair 1 replacement)
    kf_replace_once(text "${pattern}" "${replacement}" "${source}")
  endforeach()
  file(CONFIGURE OUTPUT ${dest} CONTENT "${header}${text}" @ONLY)
endfunction()

set(kf_conffile_note
"# Installed by the ${KF_PKG_NAME} package as ${KF_PKG_ETC}/@name@.
# A conffile: upgrades keep your edits (dpkg asks when the package's version changed too).
")
string(REPLACE "@name@" "relay.toml" kf_note "${kf_conffile_note}")
kf_shipped_config(${PROJECT_SOURCE_DIR}/deploy/relay.example.toml ${KF_PKG_DIR}/etc/relay.toml "${kf_note}"
  "\naccess_file *= \"\" *=>\naccess_file = \"${KF_PKG_ETC}/access.toml\"  "
  "\nstate_db *= \"\" *=>\nstate_db = \"${KF_PKG_STATE}/relay.db\"  "
  "\naudit_log *= \"\" *=>\naudit_log = \"${KF_PKG_STATE}/audit.log\"  ")
string(REPLACE "@name@" "master.toml" kf_note "${kf_conffile_note}")
kf_shipped_config(${PROJECT_SOURCE_DIR}/master/master.example.toml ${KF_PKG_DIR}/etc/master.toml "${kf_note}"
  "\ndb = \"[^\"\n]*\"=>\ndb = \"${KF_PKG_STATE}/master.db\""
  "/etc/kaillera/master.crt=>${KF_PKG_ETC}/master.crt"
  "/etc/kaillera/master.key=>${KF_PKG_ETC}/master.key")

# The access file's [[user]] entries name example addresses and a dns: name: shipped commented out, so a new
# relay gives nobody a level and resolves no name until the operator writes entries.
set(kf_access ${PROJECT_SOURCE_DIR}/deploy/access.example.toml)
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${kf_access})
file(READ ${kf_access} kf_text)
string(FIND "${kf_text}" "\n[[user]]" kf_first_user)
if(kf_first_user LESS 0)
  message(FATAL_ERROR "cmake/Package.cmake: ${kf_access}: no [[user]] entry to comment out")
endif()
string(SUBSTRING "${kf_text}" 0 ${kf_first_user} kf_head)
string(SUBSTRING "${kf_text}" ${kf_first_user} -1 kf_users)
string(REGEX REPLACE "\n([^#\n])" "\n# \\1" kf_users "${kf_users}")
string(REPLACE "@name@" "access.toml" kf_note "${kf_conffile_note}")
file(CONFIGURE OUTPUT ${KF_PKG_DIR}/etc/access.toml CONTENT
     "${kf_note}${kf_head}\n\n# Examples: uncomment and edit.${kf_users}" @ONLY)

# ---- Manual pages from --help (help2man), or the plain --help text ----------------------------------------
find_program(KF_HELP2MAN help2man)
set(kf_docs "")
set(kf_programs kaillera-relay kaillera-master kaillera_cli)
set(kf_descriptions "Kaillera netplay relay server" "directory of Kaillera Federation relays"
                    "Kaillera Federation client tool")
foreach(target description IN ZIP_LISTS kf_programs kf_descriptions)
  get_target_property(name ${target} OUTPUT_NAME)
  if(NOT name)
    set(name ${target})
  endif()
  if(KF_HELP2MAN)
    set(out ${KF_PKG_DIR}/man/${name}.1)
    add_custom_command(OUTPUT ${out}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${KF_PKG_DIR}/man
      COMMAND ${KF_HELP2MAN} --no-info --no-discard-stderr --section=1 --name=${description} --output=${out}
              $<TARGET_FILE:${target}>
      COMMAND gzip -9nf ${out}
      DEPENDS ${target}
      COMMENT "Manual page of ${name} (help2man)"
      VERBATIM)
    list(APPEND kf_docs ${out}.gz)
  else()
    set(out ${KF_PKG_DIR}/doc/${name}.help.txt)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${KF_PKG_DIR}/doc
      COMMAND sh -c "\"$1\" --help > \"$2\"" sh $<TARGET_FILE:${target}> ${out}
      DEPENDS ${target}
      COMMENT "--help text of ${name} (no help2man)"
      VERBATIM)
    list(APPEND kf_docs ${out})
  endif()
endforeach()
add_custom_target(kf_package_docs ALL DEPENDS ${kf_docs})
set(KF_PKG_MAN_DIR ${KF_PKG_DIR}/man)  # for tests/package (systemd-analyze verify finds the pages there)

# ---- What gets installed --------------------------------------------------------------------------------
install(TARGETS kaillera-relay kaillera-master kaillera_cli RUNTIME DESTINATION bin)
# The relay's texts in every language (relay/messages/*.toml; English is compiled in too). The relay looks in
# ../share/kaillera-federation/messages beside its binary (docs/OPERATING.md "Languages").
install(DIRECTORY ${PROJECT_SOURCE_DIR}/relay/messages/ DESTINATION share/${KF_PKG_NAME}/messages
        FILES_MATCHING PATTERN "*.toml")
install(FILES ${KF_PKG_DIR}/etc/relay.toml ${KF_PKG_DIR}/etc/master.toml ${KF_PKG_DIR}/etc/access.toml
        DESTINATION ${KF_PKG_ETC} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/kaillera-relay.service
              ${PROJECT_SOURCE_DIR}/deploy/systemd/kaillera-master.service
        DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/debian/sysusers.conf DESTINATION lib/sysusers.d
        RENAME ${KF_PKG_NAME}.conf)
if(KF_HELP2MAN)
  install(DIRECTORY ${KF_PKG_DIR}/man/ DESTINATION share/man/man1 FILES_MATCHING PATTERN "*.1.gz")
else()
  install(DIRECTORY ${KF_PKG_DIR}/doc/ DESTINATION share/doc/${KF_PKG_NAME} FILES_MATCHING PATTERN "*.help.txt")
endif()
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/OPERATING.md
        DESTINATION share/doc/${KF_PKG_NAME})
install(FILES ${PROJECT_SOURCE_DIR}/master/README.md DESTINATION share/doc/${KF_PKG_NAME} RENAME master-README.md)

# ---- The Debian package -----------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ${KF_PKG_NAME})
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/dist)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # the release preset builds with debug info; the package ships without it
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "federation of Kaillera netplay relays and a master directory")
set(CPACK_PACKAGE_DESCRIPTION
"kaillera-relay is a complete Kaillera server for unmodified Kaillera clients (Kaillera 0.9, n02,
SupraClient, MAME32k and Project64k built-ins). kaillera-master is a directory: relays report to it over
gRPC, it keeps listings in SQLite and serves them as a web page, JSON and the classic list formats, and picks
the fairest relay for a group of players. kaillera is the command-line client for players and operators.")
set(CPACK_PACKAGE_CONTACT "Kaillera Federation maintainers <maintainers@kaillera-federation.invalid>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # kaillera-federation_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps")  # postinst; /bin/kill of ExecReload=
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")  # the master's https webhooks (system CA store)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
