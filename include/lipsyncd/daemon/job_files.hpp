#pragma once
// A job's input files as done/ and error/ name them, and the way back from error/ for
// `lipsyncd retry` of a failed job.

#include <filesystem>
#include <vector>

#include "lipsyncd/outbox/delivery.hpp"
#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::daemon {

// Video, audio, then extras; folder jobs keep their folder name ("take1/a.mp4").
std::vector<outbox::InputFile> job_inputs(const spool::JobRecord& job);

// Moves a failed job's inputs back from `error_folder` into its spool folder, using the
// error report that names the job, and removes that report. Returns how many files came
// back. Throws lipsyncd::Error ("inputs_not_found") when no report names the job or its
// files are gone.
int restore_inputs_from_error(const spool::JobRecord& job,
                              const std::filesystem::path& error_folder);

}  // namespace lipsyncd::daemon
