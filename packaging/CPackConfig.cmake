# Debian package: the skvq command line, the skvq-studio desktop application, a .desktop entry,
# an icon and AppStream metadata. Build with `cpack -G DEB` in the build directory.
if(SKVQ_BUILD_GUI)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/skvq-studio.desktop DESTINATION share/applications)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/skvq-studio.svg
          DESTINATION share/icons/hicolor/scalable/apps)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/skvq-studio-256.png
          DESTINATION share/icons/hicolor/256x256/apps RENAME skvq-studio.png)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/io.github.skvq.studio.metainfo.xml
          DESTINATION share/metainfo)
endif()

set(CPACK_PACKAGE_NAME "skvq-studio")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION "SKVQ engine (skvq command line) and the SKVQ Studio desktop application for
 calibrating, evaluating and inspecting KV-cache quantization of Llama-family models.")
set(CPACK_PACKAGE_CONTACT "SKVQ Studio developers <skvq@example.org>")
set(CPACK_PACKAGE_VENDOR "SKVQ Studio")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
