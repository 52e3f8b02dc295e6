#pragma once
// Directories whose existence survives a power cut. A new directory entry is
// durable only once its parent directory is fsynced (POSIX promises nothing
// more, and a file system may lose it); files synced inside a directory whose
// own entry was lost are lost with it.

#include <string>

namespace herald {

// Creates `path` and any missing parents, fsyncing the parent of each one it
// created. Returns 0, or the errno of the first step that failed.
int CreateDirectoriesDurably(const std::string& path);

// fdatasyncs an open file, retrying on EINTR. Returns 0 or the errno.
int SyncFileData(int fd);

// fsyncs the directory itself (after creating, renaming or removing entries
// in it). Returns 0 or the errno.
int SyncDirectory(const std::string& dir);

}  // namespace herald
