from lead_manager.entrypoints.cli import main

main()
