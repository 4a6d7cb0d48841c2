# One .deb (cpack -G DEB in the build folder): /usr/bin/recwb(-cli) plus desktop integration.
# Library dependencies come from dpkg-shlibdeps (package dpkg-dev); Depends lists only what
# shlibdeps cannot see: plugins Qt loads at run time.
set(CPACK_PACKAGE_NAME "recwb")
set(CPACK_PACKAGE_VENDOR "Recommendation Workbench")
set(CPACK_PACKAGE_CONTACT "Recommendation Workbench team <recwb@example.invalid>")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
  "A desktop workbench and headless CLI for hybrid recommendation: collaborative filtering
finds candidates, an LLM or the offline reranker reorders and explains them, and every
stage can be inspected, compared and evaluated.")
set(CPACK_PACKAGE_HOMEPAGE_URL "${PROJECT_HOMEPAGE_URL}")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_IGNORE_FILES "/build[^/]*/" "/\\\\.git/")

set(CPACK_GENERATOR "DEB")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PROJECT_HOMEPAGE_URL}")
if(RECWB_BUILD_GUI)
  # The platform (xcb/wayland) and SVG image-format plugins are dlopen()ed, invisible to shlibdeps.
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "qt6-qpa-plugins, libqt6svg6")
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "qt6-wayland")
else()
  unset(CPACK_DEBIAN_PACKAGE_DEPENDS)
endif()
include(CPack)
