#pragma once
// Certificates made at test time with the `openssl` command (never committed): a test CA, a
// server certificate it signed for localhost and 127.0.0.1, one it signed for another host
// name, and a self-signed one from an unknown CA. Lets tests prove TLS verification works.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "child_process.hpp"

namespace lipsyncd::test {

struct TlsCerts {
  std::filesystem::path ca_cert;      // trust this (--ca-file)
  std::filesystem::path server_cert;  // CN/SAN localhost, 127.0.0.1, ::1; signed by ca_cert
  std::filesystem::path server_key;
  std::filesystem::path wrong_host_cert;  // SAN wrong.example only; signed by ca_cert
  std::filesystem::path wrong_host_key;
  std::filesystem::path unknown_ca_cert;  // self-signed for localhost: no trusted CA
  std::filesystem::path unknown_ca_key;
};

// Makes the files in `dir` (about a second with EC keys).
inline TlsCerts make_tls_certs(const std::filesystem::path& dir) {
  TlsCerts certs{dir / "ca.pem",         dir / "server.pem",     dir / "server.key",
                 dir / "wrong-host.pem", dir / "wrong-host.key", dir / "unknown-ca.pem",
                 dir / "unknown-ca.key"};
  const auto log = dir / "openssl.log";
  const auto openssl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    const int code = run_to_completion(args, log, std::chrono::seconds(60));
    if (code != 0) {
      std::ifstream in(log);
      ADD_FAILURE() << "openssl failed (" << code << "): "
                    << std::string(std::istreambuf_iterator<char>(in),
                                   std::istreambuf_iterator<char>());
    }
  };
  const auto ec_key = [](const std::filesystem::path& key) {
    return std::vector<std::string>{
        "-newkey", "ec",      "-pkeyopt",  "ec_paramgen_curve:prime256v1",
        "-nodes",  "-keyout", key.string()};
  };
  const auto sign = [&](const std::string& name, const std::string& san,
                        const std::filesystem::path& cert, const std::filesystem::path& key) {
    const auto csr = dir / (name + ".csr");
    const auto ext = dir / (name + ".ext");
    std::ofstream(ext) << "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                          "extendedKeyUsage=serverAuth\nsubjectAltName="
                       << san << "\n";
    auto request =
        std::vector<std::string>{"req", "-new", "-subj", "/CN=" + name, "-out", csr.string()};
    const auto key_args = ec_key(key);
    request.insert(request.end(), key_args.begin(), key_args.end());
    openssl(request);
    openssl({"x509", "-req", "-in", csr.string(), "-CA", certs.ca_cert.string(), "-CAkey",
             (dir / "ca.key").string(), "-CAcreateserial", "-days", "2", "-extfile", ext.string(),
             "-out", cert.string()});
  };

  auto ca = std::vector<std::string>{"req",   "-x509", "-subj", "/CN=lipsyncd test CA",
                                     "-days", "2",     "-out",  certs.ca_cert.string()};
  const auto ca_key = ec_key(dir / "ca.key");
  ca.insert(ca.end(), ca_key.begin(), ca_key.end());
  openssl(ca);
  sign("localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", certs.server_cert, certs.server_key);
  sign("wrong.example", "DNS:wrong.example", certs.wrong_host_cert, certs.wrong_host_key);

  auto unknown = std::vector<std::string>{"req",     "-x509",
                                          "-subj",   "/CN=localhost",
                                          "-days",   "2",
                                          "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                                          "-out",    certs.unknown_ca_cert.string()};
  const auto unknown_key = ec_key(certs.unknown_ca_key);
  unknown.insert(unknown.end(), unknown_key.begin(), unknown_key.end());
  openssl(unknown);
  return certs;
}

}  // namespace lipsyncd::test
