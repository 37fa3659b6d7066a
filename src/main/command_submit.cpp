// `lipsyncd submit VIDEO AUDIO --out OUT.mp4`: one job in the foreground, through the same
// fal client coroutines the daemon uses: upload both files, submit, follow the queue (printing
// position and logs as they change), download the result. Exit 0 only when OUT.mp4 is there.
// Before any money is spent the pair goes through the media module (probe, face check, sync
// plan, normalization with pre-trim), unless --no-prepare asks to upload the files as given.

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/fal/client.hpp"
#include "lipsyncd/media/pair_preparation.hpp"

namespace lipsyncd::cli {
namespace {

struct SubmitOptions {
  std::filesystem::path video;
  std::filesystem::path audio;
  std::filesystem::path out;
  std::filesystem::path config_file;
  std::string model;
  std::string sync_mode;
  std::string endpoint;
  std::string queue_url;
  std::string rest_url;
  std::filesystem::path ca_file;
  std::string log_level;
  bool no_prepare = false;
};

// A private scratch folder for the normalized files, removed when the command ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "lipsyncd-submit-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw Error("disk_error", "cannot create a scratch folder in " + pattern,
                  "check TMPDIR and free space", Permanence::transient);
    }
    path_ = pattern;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;  // best effort: never throw from a destructor
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// What will be uploaded: the normalized pair and the planned sync mode, or the files as given.
struct UploadPlan {
  std::filesystem::path video;
  std::filesystem::path audio;
  std::string sync_mode;           // empty: fal's default
  std::optional<double> output_s;  // planned output length, when the pair was checked
};

// Printed before anything is uploaded, so the price is known before it is paid.
void print_estimate(const ModelChoice& choice, const UploadPlan& plan) {
  std::cout << "endpoint " << choice.endpoint << ", model "
            << (choice.model.empty() ? std::string("(none: the endpoint has no model field)")
                                     : choice.model)
            << "\n";
  const std::string rate = fmt::format("${:.2f}/min{}", choice.usd_per_minute,
                                       choice.price_overridden ? " from [prices]" : "");
  if (plan.output_s) {
    std::cout << fmt::format("estimate: {:.2f} min x {} = ${:.2f}\n", *plan.output_s / 60.0, rate,
                             estimate_usd(*plan.output_s, choice.usd_per_minute));
  } else {
    std::cout << "estimate: unknown output length (--no-prepare) at " << rate << "\n";
  }
  std::cout.flush();
}

UploadPlan prepare(const SubmitOptions& options, const Config& config, const ScratchDir& scratch) {
  if (options.no_prepare) return {options.video, options.audio, options.sync_mode, std::nullopt};
  std::optional<SyncMode> requested;
  if (!options.sync_mode.empty()) requested = parse_sync_mode(options.sync_mode);
  std::cout << "checking and normalizing the pair\n" << std::flush;
  const media::PreparedPair prepared =
      media::prepare_pair(options.video, options.audio, scratch.path(), config, requested);
  std::string mode = options.sync_mode;
  if (prepared.report.plan) {
    mode = std::string(to_string(prepared.report.plan->mode));
    std::cout << "sync mode " << mode << ": " << prepared.report.plan->reason << "\n";
  }
  if (prepared.report.verdict == media::Verdict::accept_with_warning) {
    std::cout << "warning: " << prepared.report.message << "\n";
  }
  std::optional<double> output_s;
  if (prepared.report.plan) output_s = prepared.report.plan->output_duration_s;
  return {prepared.video.file, prepared.audio.file, mode, output_s};
}

Config effective_config(const SubmitOptions& options) {
  const Environment env = current_environment();
  Config config =
      options.config_file.empty() ? default_config(env) : load_config(options.config_file, env);
  // Flags win over the file and the environment: they are the most specific request.
  if (!options.queue_url.empty()) config.fal.queue_url = options.queue_url;
  if (!options.rest_url.empty()) config.fal.rest_url = options.rest_url;
  if (!options.ca_file.empty()) config.fal.ca_file = std::filesystem::absolute(options.ca_file);
  if (!options.log_level.empty()) config.log.level = options.log_level;
  return config;
}

void check_inputs(const SubmitOptions& options, const Config& config) {
  for (const auto& input : {options.video, options.audio}) {
    if (!std::filesystem::is_regular_file(input)) {
      throw Error("input_missing", input.string() + " does not exist or is not a file",
                  "give the paths of a video and an audio file");
    }
  }
  if (!options.sync_mode.empty() && !parse_sync_mode(options.sync_mode)) {
    throw Error("bad_argument", "--sync-mode " + options.sync_mode + " is not a sync mode",
                "use cut_off, loop, bounce, silence or remap");
  }
  if (config.fal.credentials.empty()) {
    throw Error("no_credentials", "no fal API key is configured",
                "set FAL_KEY (or FAL_KEY_ID and FAL_KEY_SECRET), or [fal] key_file");
  }
  const auto out_dir = std::filesystem::absolute(options.out).parent_path();
  if (!std::filesystem::is_directory(out_dir)) {
    throw Error("bad_argument", "the folder of --out (" + out_dir.string() + ") does not exist",
                "create it first or choose another output path");
  }
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("lipsyncd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

const char* state_name(fal::QueueState state) {
  switch (state) {
    case fal::QueueState::in_queue:
      return "in queue";
    case fal::QueueState::in_progress:
      return "processing";
    case fal::QueueState::completed:
      return "completed";
  }
  return "?";
}

void print_progress(const fal::Progress& progress) {
  if (progress.state == fal::QueueState::in_queue) {
    std::cout << "queue: in queue";
    if (progress.queue_position) std::cout << ", position " << *progress.queue_position;
    std::cout << "\n";
  } else {
    std::cout << "queue: " << state_name(progress.state) << "\n";
  }
  for (const auto& line : progress.new_logs) std::cout << "fal log: " << line.message << "\n";
  std::cout.flush();
}

fal::awaitable<void> run_job(fal::Client& client, const SubmitOptions& options,
                             const UploadPlan& plan, const ModelChoice& choice) {
  std::cout << "uploading " << options.video.filename().string() << "\n" << std::flush;
  const std::string video_url = co_await client.upload(plan.video);
  std::cout << "uploading " << options.audio.filename().string() << "\n" << std::flush;
  const std::string audio_url = co_await client.upload(plan.audio);

  fal::LipsyncInput input{video_url, audio_url, choice.model, plan.sync_mode};
  const fal::Submission submission = co_await client.submit(input);
  std::cout << "submitted to " << client.endpoint().full() << ": request " << submission.request_id
            << "\n"
            << std::flush;

  co_await client.wait_for_completion(submission.request_id, print_progress);
  const fal::LipsyncOutput output = co_await client.result(submission.request_id);
  std::cout << "downloading the result";
  if (output.file_size) std::cout << " (" << *output.file_size << " bytes)";
  std::cout << "\n" << std::flush;
  co_await client.download(output.video_url, options.out, output.file_size);
  std::cout << "wrote " << options.out.string() << "\n";
}

int run_submit(const SubmitOptions& options) {
  Config config = effective_config(options);
  // --endpoint / --model are checked against the catalog before anything is uploaded: fal
  // would refuse a model of another endpoint with a 422 only after both uploads.
  ModelChoice choice;
  try {
    choose_model(config, options.endpoint, options.model);
    choice = model_choice(config);
  } catch (const Error& e) {
    std::cerr << "lipsyncd submit: " << e.what() << " [" << e.reason_code()
              << "]\n  hint: " << e.hint() << "\n";
    return kExitUsage;
  }
  setup_logging(config.log.level);
  check_inputs(options, config);
  const ScratchDir scratch;
  const UploadPlan plan = prepare(options, config, scratch);
  print_estimate(choice, plan);
  boost::asio::io_context io;
  fal::Client client(io.get_executor(), config.fal);
  std::exception_ptr failure;
  boost::asio::co_spawn(io, run_job(client, options, plan, choice),
                        [&failure](std::exception_ptr error) { failure = error; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::filesystem::is_regular_file(options.out) ? kExitOk : kExitFailure;
}

}  // namespace

void register_submit_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<SubmitOptions>();
  auto* submit = app.add_subcommand(
      "submit",
      "Lip-sync one video to one audio at fal in the foreground: upload, submit, wait "
      "(printing queue position and logs), download. Exit 0 only when --out is complete.");
  submit->add_option("VIDEO", options->video, "The talking video (MP4, MOV, WebM, AVI)")
      ->required();
  submit->add_option("AUDIO", options->audio, "The speech (WAV, MP3, AAC, FLAC)")->required();
  submit->add_option("--out,-o", options->out, "Where to write the lip-synced MP4")->required();
  submit->add_option("--model", options->model,
                     "Model of the endpoint (default: [fal] model, else the endpoint's "
                     "default). fal-ai/sync-lipsync: lipsync-1.9.0-beta, lipsync-1.8.0, "
                     "lipsync-1.7.1; fal-ai/sync-lipsync/v2: lipsync-2, lipsync-2-pro; "
                     "fal-ai/sync-lipsync/v3: none. Another endpoint's model: exit 2");
  submit->add_option("--sync-mode", options->sync_mode,
                     "What to do when the lengths differ: cut_off (fal's default), loop, "
                     "bounce, silence, remap");
  submit->add_option("--endpoint", options->endpoint,
                     "fal endpoint id, e.g. fal-ai/sync-lipsync/v2 (default: [fal] endpoint, "
                     "or FAL_VIDEO_TO_VIDEO_LIPSYNC)");
  submit->add_option("--queue-url", options->queue_url,
                     "Queue API base URL (default https://queue.fal.run)");
  submit->add_option("--rest-url", options->rest_url,
                     "Storage API base URL (default https://rest.fal.ai)");
  submit->add_option("--ca-file", options->ca_file,
                     "Extra CA certificates (PEM) trusted on top of the system store");
  submit->add_option("--config", options->config_file, "Configuration file (TOML)");
  submit->add_flag("--no-prepare", options->no_prepare,
                   "Upload the files as given: skip the local check (probe, face) and the "
                   "normalization and pre-trim");
  submit->add_option("--log-level", options->log_level,
                     "trace, debug, info, warn or error (default: [log] level)");
  submit->footer(
      "The API key comes from FAL_KEY (or FAL_KEY_ID + FAL_KEY_SECRET, or [fal] key_file); "
      "it is never printed.");
  commands.add(submit, [options] { return run_submit(*options); });
}

}  // namespace lipsyncd::cli
