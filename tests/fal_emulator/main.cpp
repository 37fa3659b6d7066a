// fal-emulator: a local stand-in for fal.ai (queue, storage, fal-ai/sync-lipsync) for tests.
// Prints "listening on <url>" once ready and serves until SIGTERM. See README.md.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "emulator_server.hpp"
#include "lipsyncd/core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"fal-emulator: a local, faithful fal.ai stand-in for lipsyncd's tests"};
  lipsyncd::emulator::ServerOptions options;
  std::string listen = "127.0.0.1:0";
  app.add_option("--listen", listen, "HOST:PORT to listen on (PORT 0 picks a free one)");
  app.add_option("--key", options.key,
                 "the API key clients must send as 'Authorization: Key <key>'")
      ->required();
  app.add_option("--tls-cert", options.tls_cert, "PEM certificate (chain): serve HTTPS");
  app.add_option("--tls-key", options.tls_key, "PEM private key for --tls-cert");
  app.add_option("--storage-dir", options.storage_dir, "where uploads and outputs are kept");
  app.add_option("--request-log", options.request_log,
                 "JSON-lines request log (default <storage-dir>/requests.jsonl)");
  app.add_option("--queue-delay-ms", options.timing.queue_delay_ms,
                 "least time a request stays IN_QUEUE");
  app.add_option("--processing-ms", options.timing.processing_ms,
                 "least time a request stays IN_PROGRESS");
  app.add_flag("--reuse-renders", options.timing.reuse_renders,
               "same inputs, model and sync_mode as an earlier request: copy its output instead "
               "of rendering again (for load tests)");
  app.add_flag("--return-full-id-urls", options.return_full_id_urls,
               "answer status_url/response_url/cancel_url in the full-id form "
               "(owner/alias/<path>/requests/<id>), which fal's queue also serves (§2)");
  app.add_option("--workers", options.timing.workers, "requests processed at once")
      ->check(CLI::Range(1, 16));
  CLI11_PARSE(app, argc, argv);

  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "fal-emulator: --listen must be HOST:PORT, e.g. 127.0.0.1:0\n";
    return 2;
  }
  options.listen_host = listen.substr(0, colon);
  try {
    const int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    options.port = static_cast<unsigned short>(port);
  } catch (const std::exception&) {
    std::cerr << "fal-emulator: the port in --listen must be 0..65535\n";
    return 2;
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    std::cerr << "fal-emulator: --tls-cert and --tls-key go together\n";
    return 2;
  }

  try {
    lipsyncd::emulator::EmulatorServer server(options);
    const std::string url = server.bind();
    std::cerr << "fal-emulator: no lip movement is synthesized: outputs are the input video "
                 "fitted to the audio by sync_mode, encoded H.264 + AAC\n";
    std::cout << "listening on " << url << std::endl;
    server.run();
  } catch (const lipsyncd::Error& e) {
    std::cerr << "fal-emulator: " << e.what() << " (" << e.reason_code() << ")";
    if (!e.hint().empty()) std::cerr << "; " << e.hint();
    std::cerr << "\n";
    return 1;
  }
  return 0;
}
