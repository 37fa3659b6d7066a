#pragma once
// The fal emulator's HTTP(S) listener: one Boost.Beast server that answers fal's queue routes,
// the REST storage routes, the stored files and the /_emulator control API, whatever the Host
// header says. Beast stays in the .cpp; this header is what main() and tests need.

#include <filesystem>
#include <memory>
#include <string>

#include "job_queue.hpp"

namespace lipsyncd::emulator {

struct ServerOptions {
  std::string listen_host = "127.0.0.1";
  unsigned short port = 0;         // 0 picks a free one
  std::string key;                 // the only credential accepted in `Authorization: Key <key>`
  std::filesystem::path tls_cert;  // both set: HTTPS
  std::filesystem::path tls_key;
  std::filesystem::path storage_dir = "fal-emulator-storage";
  std::filesystem::path request_log;  // empty: <storage_dir>/requests.jsonl
  JobTiming timing;
  // Which of the two served forms (§2) the submit and status answers give as status_url,
  // response_url and cancel_url: the app-only form, or the full-id form with the endpoint's
  // sub-path. A client that follows the returned URLs shows it in the request log.
  bool return_full_id_urls = false;
};

class EmulatorServer {
 public:
  explicit EmulatorServer(ServerOptions options);
  ~EmulatorServer();
  EmulatorServer(const EmulatorServer&) = delete;
  EmulatorServer& operator=(const EmulatorServer&) = delete;

  // Binds the listener and returns the base URL ("http://127.0.0.1:PORT"). Throws
  // lipsyncd::Error when the address is taken or the TLS files cannot be loaded.
  std::string bind();
  // Serves until stop() is called or SIGTERM/SIGINT arrives.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lipsyncd::emulator
