#pragma once
// What is left in a job's spool folder once the job is final, and after a kill -9. A failed
// job keeps only what `lipsyncd retry` needs: its downloaded, paid result (retry delivers it
// without paying again). A delivered or cancelled job keeps nothing. Files still in inputs/
// are the user's and are never removed here (the caller moves them to done/ or error/ first).
// A failed long-form job (its segments' folders are inside its own, under segments/) and a
// failed segment keep their whole folder: retry goes on with their cut inputs and results.

#include <filesystem>

#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::spool {

// Removes what the final job no longer needs, and the folder itself when nothing is left.
// Best effort: a file that cannot be removed is left (and logged by the caller's sweep).
// Returns whether the folder is gone.
bool tidy_final_spool_folder(const JobRecord& job);

// Removes the hidden temporaries (".result.mp4.<n>.tmp", ...) of writes a kill -9 interrupted.
// Only while nothing writes into the folder: at recovery. `skip` (a subfolder: a long-form
// job's segments/, which other nodes may be writing in) is left alone. Returns how many were
// removed.
int remove_interrupted_temporaries(const std::filesystem::path& job_folder,
                                   const std::filesystem::path& skip = {});

}  // namespace lipsyncd::spool
