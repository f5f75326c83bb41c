from notifier.entrypoints.app import main

main()
