# All third-party libraries come from Debian 12 packages (.ci/install-deps installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS json)
find_package(OpenSSL REQUIRED)
find_package(OpenCV REQUIRED COMPONENTS core imgproc objdetect videoio dnn)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(SQLite3 REQUIRED)
pkg_check_modules(LIBAV REQUIRED IMPORTED_TARGET
  libavformat libavcodec libavutil libswscale libswresample libavfilter)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
# libpq (PostgreSQL 15's client library): the fleet job store (src/spool/postgres).
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq)

# Asio and Beast are compiled separately: their non-template code is built once, in
# src/net (lipsyncd_net), rather than in every translation unit that includes them, so every
# target that uses Asio or Beast links lipsyncd_net. Beast stays out of widely included headers.
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW
                        BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION)
