// `lipsyncd submit VIDEO AUDIO --out OUT.mp4`: one job in the foreground, through the
// daemon's own stages: the media work that plans a job (probe, face check, sync plan,
// normalization with pre-trim, priced at the endpoint's rate), then the fal service the
// pipeline uses (upload both files, submit, follow the queue while printing position and logs,
// download the result), with the daemon's redacting logger. Exit 0 only when OUT.mp4 is
// there. --no-prepare uploads the files as given.

#include <fmt/format.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "lipsyncd/config/command_line.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/daemon/fal_client_service.hpp"
#include "lipsyncd/daemon/media_pipeline_work.hpp"
#include "lipsyncd/observe/logging.hpp"

// GCC 12's false -Wmismatched-new-delete on Asio coroutine frames (see job_pipeline.cpp): it
// shows here or not depending on what GCC inlines into run_submit's frame.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace lipsyncd::cli {
namespace {

struct SubmitOptions {
  std::filesystem::path video;
  std::filesystem::path audio;
  std::filesystem::path out;
  std::filesystem::path config_file;
  std::string sync_mode;
  CommandLineOverrides flags;
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

// The job as the daemon's stages see it, and what `submit` adds: whether the pair was measured
// (--no-prepare leaves the output length unknown and the sync mode to fal unless asked).
struct SubmitPlan {
  spool::JobPlan plan;
  bool measured = false;
  std::string sync_mode_sent;  // what the submit says; empty: fal's default
};

// Printed before anything is uploaded, so the price is known before it is paid.
void print_estimate(const ModelChoice& choice, const SubmitPlan& planned) {
  std::cout << "endpoint " << choice.endpoint << ", model "
            << (choice.model.empty() ? std::string("(none: the endpoint has no model field)")
                                     : choice.model)
            << "\n";
  const std::string rate = fmt::format("${:.2f}/min{}", choice.usd_per_minute,
                                       choice.price_overridden ? " from [prices]" : "");
  if (planned.measured) {
    std::cout << fmt::format("estimate: {:.2f} min x {} = ${:.2f}\n", planned.plan.output_s / 60.0,
                             rate, planned.plan.estimated_usd);
  } else {
    std::cout << "estimate: unknown output length (--no-prepare) at " << rate << "\n";
  }
  std::cout.flush();
}

// The daemon's prepare stage, or the files as given with --no-prepare.
SubmitPlan prepare(const SubmitOptions& options, daemon::MediaWork& media,
                   const ModelChoice& choice, const ScratchDir& scratch) {
  if (options.no_prepare) {
    SubmitPlan planned;
    planned.plan.normalized_video = options.video;
    planned.plan.normalized_audio = options.audio;
    planned.plan.model = choice.model;
    planned.sync_mode_sent = options.sync_mode;
    return planned;
  }
  std::optional<SyncMode> requested;
  if (!options.sync_mode.empty()) requested = parse_sync_mode(options.sync_mode);
  std::cout << "checking and normalizing the pair\n" << std::flush;
  const auto prepared =
      media.prepare(options.video, options.audio, scratch.path(), requested, choice);
  const auto mode = std::string(to_string(prepared.plan.sync_mode));
  std::cout << "sync mode " << mode << ": " << prepared.plan.reason << "\n";
  for (const auto& warning : prepared.warnings) std::cout << "warning: " << warning << "\n";
  return {prepared.plan, true, mode};
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

// The daemon's logger, every line through the redactor that masks the key. On stderr only:
// the daemon owns [log] json_file and its rotation, and a person is watching this command.
void setup_logging(const Config& config, const Environment& env) {
  LogConfig log = config.log;
  log.sink = "stderr";
  log.json_file.clear();
  observe::configure_logging(log, env, {config.fal.credentials});
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

// The daemon's fal stages (upload, submit, follow, download) without a job store.
boost::asio::awaitable<void> run_job(daemon::FalService& fal, const SubmitOptions& options,
                                     const SubmitPlan& planned) {
  spool::JobUploads uploads;
  std::cout << "uploading " << options.video.filename().string() << "\n" << std::flush;
  uploads.video_url = co_await fal.upload(planned.plan.normalized_video);
  std::cout << "uploading " << options.audio.filename().string() << "\n" << std::flush;
  uploads.audio_url = co_await fal.upload(planned.plan.normalized_audio);

  auto input = daemon::lipsync_input(planned.plan, uploads);
  input.sync_mode = planned.sync_mode_sent;
  const fal::Submission submission = co_await fal.submit(input);
  std::cout << "submitted to " << fal.endpoint() << ": request " << submission.request_id << "\n"
            << std::flush;

  const auto result = co_await fal.wait_for_result(submission, print_progress);
  std::cout << "downloading the result";
  if (result.size_bytes) std::cout << " (" << *result.size_bytes << " bytes)";
  std::cout << "\n" << std::flush;
  co_await fal.download(result.url, options.out, result.size_bytes);
  std::cout << "wrote " << options.out.string() << "\n";
}

int run_submit(const SubmitOptions& options) {
  const Environment env = current_environment();
  Config config =
      options.config_file.empty() ? default_config(env) : load_config(options.config_file, env);
  // --endpoint / --model are checked against the catalog before anything is uploaded: fal
  // would refuse a model of another endpoint with a 422 only after both uploads.
  ModelChoice choice;
  try {
    apply_command_line(config, options.flags);
    choice = model_choice(config);
  } catch (const Error& e) {
    std::cerr << "lipsyncd submit: " << e.what() << " [" << e.reason_code()
              << "]\n  hint: " << e.hint() << "\n";
    return kExitUsage;
  }
  setup_logging(config, env);
  check_inputs(options, config);
  const auto shared = std::make_shared<const Config>(config);
  daemon::MediaPipelineWork media(shared);
  const ScratchDir scratch;
  const SubmitPlan planned = prepare(options, media, choice, scratch);
  print_estimate(choice, planned);
  boost::asio::io_context io;
  daemon::FalClientService fal(io.get_executor(), config.fal);
  std::exception_ptr failure;
  boost::asio::co_spawn(io, run_job(fal, options, planned),
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
  submit->add_option("--model", options->flags.model,
                     "Model of the endpoint (default: [fal] model, else the endpoint's "
                     "default). fal-ai/sync-lipsync: lipsync-1.9.0-beta, lipsync-1.8.0, "
                     "lipsync-1.7.1; fal-ai/sync-lipsync/v2: lipsync-2, lipsync-2-pro; "
                     "fal-ai/sync-lipsync/v3: none. Another endpoint's model: exit 2");
  submit->add_option("--sync-mode", options->sync_mode,
                     "What to do when the lengths differ: cut_off (fal's default), loop, "
                     "bounce, silence, remap");
  submit->add_option("--endpoint", options->flags.endpoint,
                     "fal endpoint id, e.g. fal-ai/sync-lipsync/v2 (default: [fal] endpoint, "
                     "or FAL_VIDEO_TO_VIDEO_LIPSYNC)");
  submit->add_option("--queue-url", options->flags.queue_url,
                     "Queue API base URL (default https://queue.fal.run)");
  submit->add_option("--rest-url", options->flags.rest_url,
                     "Storage API base URL (default https://rest.fal.ai)");
  submit->add_option("--ca-file", options->flags.ca_file,
                     "Extra CA certificates (PEM) trusted on top of the system store");
  submit->add_option("--config", options->config_file, "Configuration file (TOML)");
  submit->add_flag("--no-prepare", options->no_prepare,
                   "Upload the files as given: skip the local check (probe, face) and the "
                   "normalization and pre-trim");
  submit
      ->add_option("--log-level", options->flags.log_level,
                   "trace, debug, info, warn or error (default: [log] level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  submit->footer(
      "The API key comes from FAL_KEY (or FAL_KEY_ID + FAL_KEY_SECRET, or [fal] key_file); "
      "it is never printed.");
  commands.add(submit, [options] { return run_submit(*options); });
}

}  // namespace lipsyncd::cli
