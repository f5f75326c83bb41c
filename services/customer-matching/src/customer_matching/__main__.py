from customer_matching.entrypoints.cli import main

main()
