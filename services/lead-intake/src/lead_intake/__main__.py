from lead_intake.entrypoints.cli import main

main()
