from lead_intake.entrypoints.app import main

main()
