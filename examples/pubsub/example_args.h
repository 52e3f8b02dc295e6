#pragma once
// The examples' command line: --broker URL --topic NAME --count N [--group NAME].
// Plain argv parsing, so that the example needs nothing but the SDK.

#include <cstdlib>
#include <iostream>
#include <string>

struct ExampleArgs {
  std::string broker = "127.0.0.1:7400";  // also herald://HOST:PORT or nats://HOST:PORT
  std::string topic = "example";
  int count = 10;
  std::string group = "example-subscriber";
};

[[noreturn]] inline void ExitWithUsage(const char* program) {
  std::cerr << "usage: " << program << " [--broker URL] [--topic NAME] [--count N] [--group NAME]\n";
  std::exit(2);
}

inline ExampleArgs ParseExampleArgs(int argc, char** argv) {
  ExampleArgs args;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 == argc) ExitWithUsage(argv[0]);  // every flag takes a value
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--broker") {
      args.broker = value;
    } else if (flag == "--topic") {
      args.topic = value;
    } else if (flag == "--count") {
      args.count = std::atoi(value.c_str());
    } else if (flag == "--group") {
      args.group = value;
    } else {
      ExitWithUsage(argv[0]);
    }
  }
  if (args.count <= 0) ExitWithUsage(argv[0]);
  return args;
}
